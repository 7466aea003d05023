"""The student on the pages: Settings holds it beside the teacher, the Seeds page probes it and shows its wrong answers
beside the reference, the Student page plots the frontier and measures the headroom, Home and the Overview sum it up,
Jobs names both models, and the dataset card states the headroom."""

from __future__ import annotations

from tests.views.test_pages_foundation import page
from workbench.core.jobs import worker
from workbench.core.settings import save_teacher_config
from workbench.core.teacher import TeacherConfig
from workbench.export.engine import ExportOptions, preview_card
from workbench.store import Store
from workbench.student.job import submit_probe

MOCK_STUDENT = {"model": "openai/gpt-4o-mini", "extra": {"mock_response": "Step 1: 2 + 3 = 5.\nAnswer: 5"}, "k": 2}
SEEDS = [
    {"instruction": "What is 2 + 3?", "reference_answer": "5", "domain": "math"},
    {"instruction": "What is 4 + 4?", "reference_answer": "8", "domain": "math"},
    {"instruction": "How many legs do 2 cats have?", "reference_answer": "8", "domain": "logic"},
    {"instruction": "Write a haiku about snow.", "domain": "writing"},
]


def probed(store: Store) -> list[int]:
    """Four seeds, and a finished probe of a mock student that answers 5 to everything."""
    ids = store.seeds.insert_seeds(SEEDS)
    store.settings.set_setting("student", MOCK_STUDENT)
    submit_probe(store, "seeds")
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    return ids


def test_settings_saves_the_student_and_says_when_it_is_the_teacher(store: Store):
    at = page("settings").run()
    assert not at.exception
    assert any("Student and teacher are the same model, `local/gemma-3-270m`" in c.value for c in at.caption)
    model = next(t for t in at.text_input if t.label == "Student model")
    model.input("openai/gpt-4o-mini")
    next(n for n in at.number_input if n.label == "Attempts per task (k)").set_value(8)
    at = next(b for b in at.button if b.label == "Save student").click().run()
    assert not at.exception
    saved = store.settings.get_setting("student")
    assert (saved["model"], saved["k"], saved["threshold"]) == ("openai/gpt-4o-mini", 8, 0.0)
    assert any("Saved. The student is now `openai/gpt-4o-mini`" in s.value for s in at.success)
    assert any("Student `openai/gpt-4o-mini`, teacher `local/gemma-3-270m`." in c.value for c in at.caption)


def test_the_seeds_page_queues_a_probe_and_shows_the_evidence(store: Store):
    ids = store.seeds.insert_seeds(SEEDS)
    store.settings.set_setting("student", MOCK_STUDENT)
    at = page("seeds").run()
    assert not at.exception
    assert any("The student has not been probed yet." in c.value for c in at.caption)
    at = next(b for b in at.button if b.label == "Probe the student on 4 seeds").click().run()
    assert not at.exception
    [job] = store.jobs.list_jobs()
    assert (job["kind"], job["student"], job["params"]["k"]) == ("probe", "openai/gpt-4o-mini", 2)
    assert [t["id"] for t in job["params"]["tasks"]] == ids[:3]
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    at = page("seeds").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Seeds probed"], metrics["pass@1"], metrics["Known failures by probe"]) == ("3", "33%", "2")
    # the seed in full: its evidence lists the student's wrong answers beside the reference
    seed_box = next(s for s in at.selectbox if s.label == "Seed")
    at = seed_box.select(ids[1]).run()
    assert not at.exception
    assert any(e.label.startswith("The student's answers: 0 of 2 attempts right. Known failure (probe).")
               for e in at.expander)
    assert any("These answers: written by the student (the model the data is for), `openai/gpt-4o-mini`." in c.value
               for c in at.caption)
    assert any("states '5'; the reference answer is '8'" in str(d.value) for d in at.dataframe)


def test_the_student_page_plots_the_frontier_and_refuses_an_empty_headroom_probe(store: Store):
    at = page("student").run()
    assert not at.exception
    assert any("No seeds yet" in i.value for i in at.info)
    ids = probed(store)
    at = page("student").run()
    assert not at.exception
    [chart] = at.get("plotly_chart")
    assert '"seed %{customdata}' in chart.proto.spec or "customdata" in chart.proto.spec
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Seeds probed"], metrics["Known failures, all seeds"], metrics["Headroom"]) == ("3", "2", "—")
    assert any(e.label == "1 seed not on the frontier, and why" for e in at.expander)
    at = next(b for b in at.button if b.label == "Probe the student on the approved tasks").click().run()
    assert any("There is no approved task to probe" in e.value for e in at.error)
    store.review.set_sample_status(store.samples.insert_samples([{"source": "seed", "seed_id": ids[0], "instruction": SEEDS[0][
        "instruction"]}]), "approved", "ana")
    at = next(b for b in at.button if b.label == "Probe the student on the approved tasks").click().run()
    assert not at.exception and store.jobs.list_jobs()[0]["params"]["on"] == "approved"


def test_home_overview_jobs_and_the_card_name_the_student_and_the_headroom(store: Store):
    ids = probed(store)
    [sample] = store.samples.insert_samples([{"source": "seed", "seed_id": ids[1], "instruction": SEEDS[1]["instruction"]}])
    store.review.set_sample_status([sample], "approved", "ana")
    submit_probe(store, "approved")
    assert worker.run_worker(store.path, exit_when_idle=True, log=lambda m: None) == 0
    at = page("home").run()
    assert any("Student `openai/gpt-4o-mini`: pass@1 33% on 3 probed seeds, failing 2 of them; headroom on "
               "the approved tasks 100%." in c.value for c in at.caption)
    at = page("overview").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Seeds probed"], metrics["Headroom on the approved tasks"]) == ("3", "100%")
    at = page("jobs").run()
    table = at.dataframe[0].value
    assert set(table["student"]) == {"openai/gpt-4o-mini"} and set(table["teacher"]) == {"—"}
    card = preview_card(store, ExportOptions(fmt="openai"), "approved.jsonl")
    assert "## The student" in card and "the student fails 1 of the 1 approved tasks probed" in card
    assert "| math | 2 | 50.0% | 1 | 100.0% |" in card


def test_evolution_starts_from_the_frontier_once_the_student_was_probed(store: Store):
    save_teacher_config(store, TeacherConfig(model="openai/gpt-4o-mini", extra={"mock_response": "Answer: 5"}))
    ids = probed(store)  # the student is the teacher's model: allowed
    at = page("evolution").run()
    assert not at.exception and at.radio[0].value == "Frontier"
    at = next(b for b in at.button if b.label == "Start evolution").click().run()
    assert not at.exception
    [job] = [j for j in store.jobs.list_jobs() if j["kind"] == "evolve"]
    choice = job["params"]["seed_choice"]
    assert (choice["choice"], choice["failures"], job["student"]) == ("frontier", ids[1:3], "openai/gpt-4o-mini")
    assert job["params"]["seeds"] == [*ids[1:3], ids[0]]  # the failures, then the most uncertain other
    assert any("the frontier of the student `openai/gpt-4o-mini`: 2 known failures" in s.value for s in at.success)

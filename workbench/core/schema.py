"""The store's schema: the one migration that creates every table (pre-release: edit it, add no migration)."""

from __future__ import annotations

import sqlite3

import sqlite_utils


def _execute_script(db: sqlite_utils.Database, script: str) -> None:
    """Run each statement of `script` inside the caller's transaction (sqlite3's executescript would
    COMMIT it first, which lets a concurrent opener in halfway through a migration)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:80]}")


def _migration_1(db: sqlite_utils.Database) -> None:
    _execute_script(
        db,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE seeds (
            id INTEGER PRIMARY KEY,
            instruction TEXT NOT NULL,
            input TEXT,
            reference_answer TEXT,
            reference_solution TEXT,
            origin TEXT NOT NULL DEFAULT '{}',
            domain TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            notes TEXT,
            known_failure INTEGER NOT NULL DEFAULT 0,
            known_failure_source TEXT CHECK (known_failure_source IN ('manual','probe')),
            tests TEXT,
            text_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued','running','paused','cancelled','done','failed')),
            total_units INTEGER NOT NULL DEFAULT 0,
            done_units INTEGER NOT NULL DEFAULT 0,
            failed_units INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            model TEXT,
            student TEXT,
            error TEXT,
            result TEXT,
            worker_pid INTEGER,
            heartbeat_at REAL,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            elapsed_s REAL NOT NULL DEFAULT 0,
            model_calls INTEGER NOT NULL DEFAULT 0,
            cache_hits INTEGER NOT NULL DEFAULT 0,
            ran_on TEXT,
            note TEXT
        );
        CREATE TABLE job_units (
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            unit_key TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('done','failed')),
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 1,
            finished_at REAL NOT NULL,
            PRIMARY KEY (job_id, unit_key)
        );
        -- issue 24: the student's attempts (the failure probe, workbench/student/): one per (job, task, attempt), each
        -- with its verdict against the task's reference answer, tests or verified majority answer
        CREATE TABLE student_attempts (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            task_type TEXT NOT NULL CHECK (task_type IN ('seed','sample')),
            task_id INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            text TEXT NOT NULL,
            final_answer TEXT,
            correct INTEGER CHECK (correct IN (0, 1)),
            verdict TEXT NOT NULL,
            checked_against TEXT NOT NULL CHECK (checked_against IN ('reference','tests','majority')),
            token_entropy REAL,
            entropy_note TEXT,
            model TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}',
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            UNIQUE (job_id, task_type, task_id, attempt)
        );
        CREATE INDEX student_attempts_task ON student_attempts(task_type, task_id);
        CREATE TABLE operators (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            chat_template TEXT NOT NULL,
            completion_template TEXT NOT NULL,
            completion_output TEXT NOT NULL DEFAULT 'rewrite' CHECK (completion_output IN ('rewrite','addition')),
            builtin INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        CREATE TABLE evol_nodes (
            id INTEGER PRIMARY KEY,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            node_key TEXT NOT NULL,
            seed_id INTEGER NOT NULL REFERENCES seeds(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES evol_nodes(id) ON DELETE CASCADE,
            depth INTEGER NOT NULL,
            operator TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            prompt TEXT,
            raw_response TEXT,
            instruction TEXT,
            input TEXT,
            input_origin TEXT,
            answer TEXT,
            status TEXT NOT NULL CHECK (status IN ('survived','eliminated','failed')),
            elimination_reason TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            UNIQUE (job_id, node_key)
        );
        CREATE INDEX evol_nodes_seed ON evol_nodes(seed_id);
        CREATE INDEX evol_nodes_parent ON evol_nodes(parent_id);
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL CHECK (source IN ('seed','evol','magpie','import')),
            unit_key TEXT UNIQUE,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            seed_id INTEGER REFERENCES seeds(id) ON DELETE SET NULL,
            node_id INTEGER REFERENCES evol_nodes(id) ON DELETE SET NULL,
            instruction TEXT NOT NULL,
            input TEXT,
            output TEXT,
            original_instruction TEXT,
            original_output TEXT,
            turns TEXT,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','rejected')),
            filter_reason TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            metadata TEXT NOT NULL DEFAULT '{}',
            pii TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            text_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX samples_status ON samples(status);
        CREATE INDEX samples_source ON samples(source);
        CREATE INDEX samples_hash ON samples(text_hash);
        CREATE TABLE reasoning_paths (
            id INTEGER PRIMARY KEY,
            job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
            task_type TEXT NOT NULL CHECK (task_type IN ('seed','sample')),
            task_id INTEGER NOT NULL,
            path_index INTEGER NOT NULL,
            text TEXT NOT NULL,
            final_answer TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            UNIQUE (task_type, task_id, job_id, path_index)
        );
        CREATE INDEX reasoning_paths_task ON reasoning_paths(task_type, task_id);
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY,
            path_id INTEGER NOT NULL REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            UNIQUE (path_id, idx)
        );
        CREATE TABLE step_scores (
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            verifier TEXT NOT NULL,
            score REAL NOT NULL,
            label TEXT NOT NULL,
            -- issue 23: what the verdict vouches for: outcome (the final result against ground truth), step (the
            -- step's logic was judged) or evidence (something in the step holds, e.g. its arithmetic)
            checks TEXT NOT NULL DEFAULT 'evidence' CHECK (checks IN ('outcome','step','evidence')),
            rationale TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL,
            PRIMARY KEY (step_id, verifier)
        );
        CREATE TABLE step_overrules (
            id INTEGER PRIMARY KEY,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            label TEXT NOT NULL CHECK (label IN ('correct','incorrect','neutral')),
            reason TEXT,
            reviewer TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        -- issue 16: the corrected step a labeller wrote after a path's first wrong step (PRM800K's human_completion)
        CREATE TABLE human_completions (
            id INTEGER PRIMARY KEY,
            path_id INTEGER NOT NULL REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            text TEXT NOT NULL,
            labeller TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE metrics (
            item_type TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            note TEXT,
            PRIMARY KEY (item_type, item_id, name)
        );
        CREATE INDEX metrics_name ON metrics(name);
        CREATE TABLE embeddings (
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model, text_hash)
        );
        CREATE TABLE projections (
            key TEXT PRIMARY KEY,
            params TEXT NOT NULL,
            reducer BLOB,
            created_at REAL NOT NULL
        );
        CREATE TABLE projection_points (
            projection_key TEXT NOT NULL REFERENCES projections(key) ON DELETE CASCADE,
            item_type TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            PRIMARY KEY (projection_key, item_type, item_id)
        );
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            action TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            before TEXT,
            after TEXT,
            note TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX reviews_sample ON reviews(sample_id);
        CREATE TABLE exports (
            id INTEGER PRIMARY KEY,
            format TEXT NOT NULL,
            path TEXT NOT NULL,
            n_samples INTEGER NOT NULL,
            options TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE TABLE export_items (
            export_id INTEGER NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
            sample_id INTEGER NOT NULL,
            PRIMARY KEY (export_id, sample_id)
        );
        -- issue 14 (item 4): the samples selected on the Maps page, for Review's "selected on the map" filter
        CREATE TABLE map_selection (
            sample_id INTEGER PRIMARY KEY REFERENCES samples(id) ON DELETE CASCADE,
            projection_key TEXT NOT NULL,
            selected_at REAL NOT NULL
        );
        -- issue 12: Monte-Carlo rollouts from each step prefix (Math-Shepherd), one per (step, k)
        CREATE TABLE rollouts (
            id INTEGER PRIMARY KEY,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            k INTEGER NOT NULL,
            text TEXT NOT NULL,
            final_answer TEXT,
            model TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            UNIQUE (step_id, k)
        );
        -- issue 12: the final answer a task's paths agree on when it has no reference (self-consistency)
        CREATE TABLE pseudo_references (
            task_type TEXT NOT NULL CHECK (task_type IN ('seed','sample')),
            task_id INTEGER NOT NULL,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            answer TEXT NOT NULL,
            votes INTEGER NOT NULL,
            voters INTEGER NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (task_type, task_id, job_id)
        );
        -- issue 15: the response cache (workbench/core/response_cache.py); key = hash of model, request, params, sample
        CREATE TABLE response_cache (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            response TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        -- issue 16: gold tasks: paths with known step ratings, mixed unmarked into the labelling queue;
        -- a labeller's ratings of a gold path are answers to check (gold_answers), never step overrules
        CREATE TABLE gold_paths (
            path_id INTEGER PRIMARY KEY REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            labeller TEXT,
            marked_by TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE gold_steps (
            step_id INTEGER PRIMARY KEY REFERENCES steps(id) ON DELETE CASCADE,
            path_id INTEGER NOT NULL REFERENCES gold_paths(path_id) ON DELETE CASCADE,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 0, 1))
        );
        CREATE TABLE gold_answers (
            id INTEGER PRIMARY KEY,
            path_id INTEGER NOT NULL REFERENCES reasoning_paths(id) ON DELETE CASCADE,
            step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,
            labeller TEXT NOT NULL,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 0, 1)),
            human_completion TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX gold_answers_labeller ON gold_answers(labeller, path_id);
        -- issue 16: decontamination: registered benchmark test sets, their items, and each seed's or sample's
        -- strongest match in each benchmark (workbench/safety/decontamination.py)
        CREATE TABLE benchmarks (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            file TEXT NOT NULL,
            field TEXT NOT NULL,
            n_items INTEGER NOT NULL,
            content_hash TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );
        CREATE TABLE benchmark_items (
            id INTEGER PRIMARY KEY,
            benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            UNIQUE (benchmark_id, idx)
        );
        CREATE TABLE contamination (
            item_type TEXT NOT NULL CHECK (item_type IN ('seed','sample')),
            item_id INTEGER NOT NULL,
            benchmark_id INTEGER NOT NULL REFERENCES benchmarks(id) ON DELETE CASCADE,
            benchmark_item_id INTEGER NOT NULL REFERENCES benchmark_items(id) ON DELETE CASCADE,
            ngram_overlap REAL NOT NULL,
            similarity REAL,
            scanned_at REAL NOT NULL,
            PRIMARY KEY (item_type, item_id, benchmark_id)
        );
        -- issue 23: the gate's decision on each task under the settings in force when it was last evaluated
        -- (workbench/verify/reasoning.py): passed, unverified or failed, the kind of reason, who decided it, the reason
        -- in words, and how many steps of its paths Monte-Carlo rollouts and the judge disagree on
        CREATE TABLE gate_verdicts (
            task_type TEXT NOT NULL CHECK (task_type IN ('seed','sample')),
            task_id INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('passed','unverified','failed')),
            kind TEXT NOT NULL DEFAULT '',
            decided_by TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL,
            best_path_id INTEGER REFERENCES reasoning_paths(id) ON DELETE SET NULL,
            disputes INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL,
            PRIMARY KEY (task_type, task_id)
        );
        CREATE INDEX gate_verdicts_status ON gate_verdicts(status);
        -- issue 26: preference pairs read from files (TRL DPO / KTO, LLaMA-Factory and OpenAI preference layouts). A pair
        -- belongs to the sample holding its prompt and chosen reply (chosen = 0: an unpaired KTO row labelled
        -- undesirable, whose sample is its prompt alone); `rejected` holds the rejected reply's turns (JSON). The pairs
        -- the gate makes are built from the reasoning paths at export time (workbench/export/preference_pairs.py).
        CREATE TABLE preference_pairs (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('response','step','unpaired')),
            chosen INTEGER NOT NULL DEFAULT 1,
            rejected TEXT,
            lineage TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            pair_key TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );
        CREATE INDEX preference_pairs_sample ON preference_pairs(sample_id);
        CREATE TABLE demo_stages (
            demo_job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            stage TEXT NOT NULL,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            PRIMARY KEY (demo_job_id, stage)
        );
        """
    )

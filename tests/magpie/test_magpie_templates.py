"""Magpie chat templates: what each family sends in step 1 and step 2, detection, custom templates."""

from __future__ import annotations

import pytest

from workbench.core.local_model import gemma_chat_prompt, model_path
from workbench.magpie.engine import (
    BUILTIN_TEMPLATES,
    ChatTemplate,
    TemplateError,
    all_templates,
    delete_custom_template,
    detect_from_chat_template,
    detect_from_gguf,
    detect_from_name,
    detect_template,
    get_template,
    gguf_metadata,
    save_custom_template,
)

# The pre-query template of each family, BOS included: the text of step 1 with no system prompt.
PRE_QUERY = {
    "llama-3": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
    "qwen2": "<|im_start|>user\n",
    "qwen2.5": "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n",
    "gemma": "<bos><start_of_turn>user\n",
    "phi-3": "<s><|user|>\n",
    "llama-2": "<s>[INST] ",
    "mistral": "<s>[INST] ",
    "chatml": "<|im_start|>user\n",
}


def test_every_family_is_registered_with_stop_strings():
    assert set(BUILTIN_TEMPLATES) == set(PRE_QUERY)
    for template in BUILTIN_TEMPLATES.values():
        assert template.stop, template.name
        assert template.user_start and template.user_end


@pytest.mark.parametrize("name", sorted(PRE_QUERY))
def test_pre_query_template_of_each_family(name: str):
    template = get_template(name)
    assert template.pre_query(add_bos=True) == PRE_QUERY[name]
    assert template.pre_query() == PRE_QUERY[name].removeprefix(template.bos)


@pytest.mark.parametrize("name", sorted(PRE_QUERY))
def test_answer_prompt_continues_the_pre_query_and_opens_the_assistant_turn(name: str):
    template = get_template(name)
    prompt = template.answer_prompt("Why is the sky blue?", add_bos=True)
    assert prompt == PRE_QUERY[name] + "Why is the sky blue?" + template.user_end + template.assistant_start
    # a model that writes past its own query hits a stop string
    assert template.user_end.strip() in template.stop


def test_llama3_full_conversation_with_system():
    template = get_template("llama-3.1")
    prompt = template.answer_prompt("And 3+3?", system="Be brief.", history=[("What is 2+2?", "4")], add_bos=True)
    assert prompt == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_qwen25_system_prompt_replaces_its_default():
    template = get_template("qwen2.5")
    assert template.pre_query(system="You solve math problems.") == (
        "<|im_start|>system\nYou solve math problems.<|im_end|>\n<|im_start|>user\n"
    )
    assert get_template("qwen2").pre_query() == "<|im_start|>user\n"


def test_gemma_folds_the_system_prompt_into_the_first_user_turn_like_the_bundled_model():
    template = get_template("gemma-3")
    messages = [
        {"role": "system", "content": "Ask about chemistry."},
        {"role": "user", "content": "What is a mole?"},
        {"role": "assistant", "content": "6.022e23 particles."},
        {"role": "user", "content": "And a molar mass?"},
    ]
    prompt = template.answer_prompt("And a molar mass?", system="Ask about chemistry.",
                                    history=[("What is a mole?", "6.022e23 particles.")])
    assert prompt == gemma_chat_prompt(messages)
    assert template.pre_query(system="Ask about chemistry.") == "<start_of_turn>user\nAsk about chemistry.\n\n"


def test_llama2_sys_block_and_multi_turn():
    template = get_template("llama-2")
    prompt = template.answer_prompt("Q2", system="S", history=[("Q1", "A1")], add_bos=True)
    assert prompt == "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nQ1 [/INST] A1 </s><s>[INST] Q2 [/INST] "


def test_mistral_and_phi3_multi_turn():
    assert get_template("mistral").answer_prompt("Q2", history=[("Q1", "A1")], add_bos=True) == (
        "<s>[INST] Q1 [/INST]A1</s>[INST] Q2 [/INST]"
    )
    assert get_template("phi-3").answer_prompt("Q", system="S", add_bos=True) == (
        "<s><|system|>\nS<|end|>\n<|user|>\nQ<|end|>\n<|assistant|>\n"
    )


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("hosted_vllm/meta-llama/Meta-Llama-3.1-8B-Instruct", "llama-3"),
        ("text-completion-openai/Llama-3.3-70B-Instruct", "llama-3"),
        ("ollama/llama3", "llama-3"),
        ("hosted_vllm/Qwen/Qwen2-7B-Instruct", "qwen2"),
        ("hosted_vllm/Qwen/Qwen2.5-72B-Instruct", "qwen2.5"),
        ("ollama/qwen2.5:7b", "qwen2.5"),
        ("local/gemma-3-270m", "gemma"),
        ("ollama/gemma2:9b", "gemma"),
        ("hosted_vllm/microsoft/Phi-3-mini-4k-instruct", "phi-3"),
        ("hosted_vllm/meta-llama/Llama-2-7b-chat-hf", "llama-2"),
        ("ollama/mistral", "mistral"),
        ("hosted_vllm/mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral"),
        ("text-completion-openai/gpt-3.5-turbo-instruct", None),
    ],
)
def test_detect_from_model_name(model: str, family: str | None):
    assert detect_from_name(model) == family


# Excerpts of the chat templates these families ship in tokenizer_config.json / GGUF metadata.
CHAT_TEMPLATES = {
    "llama-3": "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}",
    "qwen2.5": "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}{%- endif %}",
    "chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}",
    "gemma": "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + "
    "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}",
    "phi-3": "{% for message in messages %}{% if message['role'] == 'user' %}{{'<|user|>' + '\\n' + "
    "message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}{% endif %}{% endfor %}",
    "llama-2": "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + "
    "messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% endif %}{{ bos_token + '[INST] ' + content + ' [/INST]' }}",
    "mistral": "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}",
}


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_detect_from_chat_template(family: str):
    assert detect_from_chat_template(CHAT_TEMPLATES[family]) == family
    assert detect_from_gguf({"tokenizer.chat_template": CHAT_TEMPLATES[family], "general.name": "x"}) == family


def test_detect_from_gguf_falls_back_to_the_model_name():
    assert detect_from_gguf({"general.name": "Gemma 3 270m", "general.architecture": "gemma3"}) == "gemma"
    assert detect_from_gguf({"general.architecture": "qwen2"}) == "qwen2"
    assert detect_from_gguf({"general.name": "my model"}) is None


def test_bundled_model_is_detected_from_its_gguf():
    metadata = gguf_metadata(model_path())
    assert metadata["general.architecture"] == "gemma3"
    assert detect_template("local/gemma-3-270m") == ("gemma", "from the bundled model's GGUF metadata")
    assert detect_template("openai/some-unknown-model") == (None, "not detected")


def test_custom_template_saved_used_and_deleted(store):
    custom = ChatTemplate(
        name="vicuna", user_start="USER: ", user_end="\n", assistant_start="ASSISTANT: ", assistant_end="</s>\n",
        stop=("USER:", "</s>"), system_in_user="", system_turn="{system}\n\n",
    )
    save_custom_template(store, custom)
    loaded = get_template("vicuna", store)
    assert loaded == custom and not loaded.builtin
    assert loaded.pre_query(system="Be kind.") == "Be kind.\n\nUSER: "
    assert "vicuna" in all_templates(store)
    with pytest.raises(TemplateError, match="unknown template"):
        get_template("vicuna")  # without the store only built-ins are known
    assert delete_custom_template(store, "vicuna")
    assert "vicuna" not in all_templates(store)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (ChatTemplate(name="gemma", user_start="U", user_end="E", assistant_start="A", assistant_end="", stop=()),
         "built-in"),
        (ChatTemplate(name="", user_start="U", user_end="E", assistant_start="A", assistant_end="", stop=()), "name"),
        (ChatTemplate(name="x", user_start=" ", user_end="E", assistant_start="A", assistant_end="", stop=()),
         "pre-query"),
    ],
)
def test_bad_custom_templates_are_refused_and_nothing_is_saved(store, template: ChatTemplate, message: str):
    with pytest.raises(TemplateError, match=message):
        save_custom_template(store, template)
    assert all(t.builtin for t in all_templates(store).values())


def test_unknown_template_name_lists_the_known_ones():
    with pytest.raises(TemplateError, match="llama-3"):
        get_template("alpaca")

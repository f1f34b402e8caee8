"""Chat prompts: formatting (Gemma's format on the embedded tokenizer, a tiny model's own template), the
template's tokens left unsteered, and a steered vs unsteered conversation in the steering panel."""

from __future__ import annotations

import copy

import pytest
import torch

from scope_widgets.engine import hooks
from scope_widgets.engine.chat import check_messages, format_chat, gemma_format
from scope_widgets.widgets import SteeringPanel
from factories import tiny_scope
from tiny_models import hook_count

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a fruit."}]


@pytest.fixture(scope="module")
def gemma_tokenizer():
    from scope_widgets.engine.models import load_default_model

    return load_default_model(device="cpu")[1]


def test_gemma_format_on_the_embedded_tokenizer(gemma_tokenizer):
    chat = format_chat(gemma_tokenizer, CHAT)
    assert chat.text == ("<bos><start_of_turn>user\nBe brief.\n\nHi there!<end_of_turn>\n<start_of_turn>model\nHello."
                         "<end_of_turn>\n<start_of_turn>user\nName a fruit.<end_of_turn>\n<start_of_turn>model\n")
    tokens = gemma_tokenizer.convert_ids_to_tokens(chat.ids)
    assert tokens[:4] == ["<bos>", "<start_of_turn>", "user", "\n"] and tokens[-3:] == ["<start_of_turn>", "model", "\n"]
    assert tokens.count("<bos>") == 1
    content = "".join(t for i, t in enumerate(tokens) if i not in chat.template_positions)
    assert content.replace("▁", " ") == "Be brief.Hi there!Hello.Name a fruit."  # every message token, nothing else
    assert {tokens[i] for i in chat.template_positions} == {"<bos>", "<start_of_turn>", "user", "model", "\n", "\n\n", "<end_of_turn>"}


def test_a_tokenizer_with_its_own_template_uses_it():
    scope = tiny_scope()
    tok = copy.deepcopy(scope.tokenizer)
    tok.chat_template = ("{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}[assistant]{% endif %}")
    chat = format_chat(tok, [{"role": "user", "content": "ab"}])
    assert chat.text == "[user]ab\n[assistant]"
    assert chat.ids[0] == tok.bos_token_id  # the template writes no BOS: it is added
    chars = ["<bos>"] + list(chat.text)
    assert [c for i, c in enumerate(chars) if i not in chat.template_positions] == ["a", "b"]
    assert gemma_format([{"role": "user", "content": "x"}], "") != chat.text


@pytest.mark.parametrize("messages, message", [
    ([], "non-empty list"),
    ("hello", "non-empty list"),
    ([{"role": "user"}], '"role" and "content"'),
    ([{"role": "wizard", "content": "x"}], "role 'wizard'"),
    ([{"role": "user", "content": "  "}], "no text"),
    ([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "c"}], "only come first"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "end with a user message"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "alternate"),
])
def test_bad_conversations_get_clear_errors(messages, message):
    with pytest.raises(ValueError, match=message):
        check_messages(messages)


def steered_prompt_activation(scope, chat, steer, **kw):
    """The activation at the SAE's output hook over the prompt, as the generation's first pass sees it."""
    seen = []
    kwargs, context = scope._prepare_generation(chat, steer, "add", 1, 0.0, None, "all", None, **kw)
    grab = lambda h: seen.append(h.detach().clone()) or None  # noqa: E731
    with context(), hooks.edit_activations(scope.model, scope.sae.hook_point_out, grab), torch.no_grad():
        scope.model(input_ids=kwargs["input_ids"])
    return seen[0][0]


def test_the_templates_tokens_are_left_unsteered_unless_asked():
    scope = tiny_scope()
    chat = [{"role": "user", "content": "abc"}]
    formatted = format_chat(scope.tokenizer, chat)
    plain = steered_prompt_activation(scope, chat, None)
    steered = steered_prompt_activation(scope, chat, {3: 5.0})
    changed = {i for i in range(plain.shape[0]) if not torch.allclose(plain[i], steered[i])}
    assert changed == set(range(len(formatted.ids))) - formatted.template_positions
    everywhere = steered_prompt_activation(scope, chat, {3: 5.0}, steer_template=True)
    assert {i for i in range(plain.shape[0]) if not torch.allclose(plain[i], everywhere[i])} == set(range(1, plain.shape[0]))
    assert hook_count(scope.model) == 0


def test_generate_and_stream_take_a_chat():
    scope = tiny_scope()
    chat = [{"role": "user", "content": "abc"}]
    text = scope.generate(chat, max_new_tokens=5)
    ids = torch.tensor([format_chat(scope.tokenizer, chat).ids])
    with torch.no_grad():
        out = scope.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=5, do_sample=False,
                                   pad_token_id=0, repetition_penalty=1.1)  # generation's default penalty
    assert text == scope.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert scope.stream(chat, max_new_tokens=5).wait() == text
    with pytest.raises(ValueError, match="end with a user message"):
        scope.generate([{"role": "assistant", "content": "x"}])


def test_the_panel_holds_a_conversation_steered_and_unsteered_side_by_side():
    scope = tiny_scope()
    fid = int(scope.features("abc").top(1)[0][0])
    seen = []
    original = scope.stream
    scope.stream = lambda prompt, **kw: seen.append((copy.deepcopy(prompt), "steer_template" in kw)) or original(prompt, **kw)
    panel = SteeringPanel(scope, [{"role": "user", "content": "Hello!"}], features=[fid], coefficients={fid: 8.0},
                          max_new_tokens=5, auto_generate=False)
    panel.generate(wait=True)
    first = (panel.baseline_text, panel.steered_text)
    assert first[0] != first[1]
    panel.say("And then?", wait=True)
    assert panel.chat[1] == {"role": "assistant", "baseline": first[0], "steered": first[1]}
    base_prompt, steer_prompt = seen[-2][0], seen[-1][0]
    assert base_prompt[1] == {"role": "assistant", "content": first[0]}  # each side continues its own chat
    assert steer_prompt[1] == {"role": "assistant", "content": first[1]} and seen[-1][1]
    assert panel.conversation("steered")[-1] == {"role": "assistant", "content": panel.steered_text}
    assert len(panel.conversation("baseline")) == 4 and len(panel.steered_tokens) == 5
    scope.stream = original


def test_chat_errors_are_clear():
    scope = tiny_scope()
    with pytest.raises(ValueError, match="end with a user message"):
        SteeringPanel(scope, [{"role": "assistant", "content": "x"}], auto_generate=False)
    plain = SteeringPanel(scope, "Hello", auto_generate=False)
    with pytest.raises(ValueError, match="plain prompt"):
        plain.say("hi")

"""Tiny offline models for tests, examples and the demo.

Nothing here touches the network: the tokenizer is a byte-level BPE trained on
the demo mirror's text (all five languages), the models are random
``LlamaConfig`` (untied embeddings) or ``Qwen3Config`` (tied) networks with a
few small layers, saved as ordinary Hugging Face folders (safetensors).
"""

import json
from collections.abc import Iterator
from pathlib import Path

from lm_eval_iberian import demo_data_dir

__all__ = ["CHAT_TEMPLATE", "build_tiny_model", "build_tiny_tokenizer", "demo_corpus"]

# ChatML, as Qwen3 uses; enough for --apply_chat_template / --fewshot_as_multiturn.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def demo_corpus() -> Iterator[str]:
    """Every string value of the demo mirror's rows, one per item."""

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)

    for path in sorted(Path(demo_data_dir()).rglob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield from strings(json.loads(line))


def build_tiny_tokenizer(vocab_size: int = 1024):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on the demo corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(demo_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(
    out_dir: str | Path,
    arch: str = "llama",
    seed: int = 0,
    hidden_size: int = 32,
    num_layers: int = 2,
    tokenizer=None,
    max_positions: int = 4096,
    tie_embeddings: bool | None = None,
) -> Path:
    """Write a random tiny causal LM (+ tokenizer) to ``out_dir`` and return the folder.

    ``arch="llama"`` has an untied ``lm_head`` (like Llama 3.1 8B), ``arch="qwen3"`` ties it
    to the embeddings (like Qwen3 <= 4B); ``tie_embeddings`` overrides (e.g. Llama 3.2 1B is tied).
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

    tokenizer = tokenizer or build_tiny_tokenizer()
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if arch == "llama":
        config = LlamaConfig(**common, tie_word_embeddings=bool(tie_embeddings))
    elif arch == "qwen3":
        config = Qwen3Config(**common, head_dim=hidden_size // 4, tie_word_embeddings=tie_embeddings is not False)
    else:
        raise ValueError(f"arch must be 'llama' or 'qwen3', got {arch!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    out = Path(out_dir)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out

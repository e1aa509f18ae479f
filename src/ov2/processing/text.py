"""The Qwen2-VL chat template the release's prompts follow, and its special tokens.

A checkpoint's own template (``chat_template.jinja``, or the tokenizer's) wins; this one
is the default for checkpoints without one (ov2's tiny test model, older release drops).
Turns are ``<|im_start|>role\\n...<|im_end|>\\n``; the default system prompt is "You are a
helpful assistant."; an image item is ``<|vision_start|><|image_pad|><|vision_end|>``, a
video item ``<|vision_start|><|video_pad|><|vision_end|>`` (the processor expands both).
Assistant content and its ``<|im_end|>`` sit in ``{% generation %}`` so
``return_assistant_tokens_mask=True`` marks exactly the tokens training labels.
"""

from __future__ import annotations

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
DEFAULT_SYSTEM = "You are a helpful assistant."

# Newlines are written as {{ '\n' }}: the template's {%- -%} tags strip literal whitespace.
DEFAULT_CHAT_TEMPLATE = (
    "{%- macro render(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- else -%}{%- for item in content -%}"
    "{%- if item['type'] == 'image' -%}<|vision_start|><|image_pad|><|vision_end|>"
    "{%- elif item['type'] == 'video' -%}<|vision_start|><|video_pad|><|vision_end|>"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] }}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "<|im_start|>system{{ '\\n' }}" + DEFAULT_SYSTEM + "<|im_end|>{{ '\\n' }}"
    "{%- endif -%}"
    "<|im_start|>{{ message['role'] }}{{ '\\n' }}"
    "{%- if message['role'] == 'assistant' -%}"
    "{% generation %}{{ render(message['content']) }}<|im_end|>{% endgeneration %}"
    "{%- else -%}{{ render(message['content']) }}<|im_end|>{%- endif -%}"
    "{{ '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant{{ '\\n' }}{%- endif -%}"
)

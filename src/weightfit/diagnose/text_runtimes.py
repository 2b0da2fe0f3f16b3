"""Rules of the ``text`` profile over what an inference runtime refuses in a converted model.

A runtime checks each operator's tensors against the types its kernels take. A half-precision
type on an operator input the schema takes only in full precision is a conversion to fp16
that went too far (``half_operator_input`` → ``dtype_variant``); a quantize or dequantize
kernel refusing its tensor's type is a quantization scheme the runtime does not run
(``quantize_kernel_type`` → ``quantization``); a loader refusing, without a reason, a file
whose name gives its quantization format is that format unsupported
(``quantized_file_refused`` → ``quantization``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

HALF_INPUT = re.compile(
    r"Type\s+'tensor\((float16|bfloat16)\)'\s+of\s+input\s+parameter\s+\(([^)\n]*)\)\s+of\s+"
    r"operator\s+\((\w+)\)[^\n]{0,80}?\bis\s+invalid"
)
"""ONNX type inference refusing a node's input (ONNX Runtime's ``Type Error: Type
'tensor(float16)' of input parameter (scales) of operator (Resize) in node (Resize_17) is
invalid``): the operator's schema does not take that type on that input."""


def half_operator_input(ctx: Context) -> None:
    """Report an ONNX operator input in half precision that its schema takes only in float.

    Converters to fp16 (``float16.convert_float_to_float16``, ``--fp16``) turn every float
    tensor into half precision; some operator inputs (Resize's ``scales``, a few ops' whole
    schema in older opsets) accept only float, and the converted model no longer passes type
    checking. A ``float`` or integer type refused is another matter (the opset, the exporter)
    and stays out.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    half = HALF_INPUT.search(facts.text)
    if half is None:
        return
    dtype, name, operator = half.groups()
    ctx.add(
        Finding(
            category="dtype_variant",
            severity="error",
            message=(
                f"the model gives {operator}'s input '{name}' as {dtype}, a type the operator's "
                "schema does not take there: the model was converted to half precision and the "
                "conversion also turned an input that must stay float"
            ),
            evidence={"operator": operator, "input": name, "dtype": dtype},
            confidence=0.45,
            fix_note=(
                f"convert again keeping {operator} (or its '{name}' input) in float32 "
                "(the converter's op block list, keep_io_types), or use the float32 model"
            ),
        )
    )


QUANTIZE_KERNEL_CHECK = re.compile(
    r"\b((?:de)?quantiz\w*)\.(?:cc|cpp|c):\d+\s+([^\n]{0,300}?->type\b[^\n]{0,300}?)"
    r"\s+was\s+not\s+true"
)
"""TensorFlow Lite's ``TF_LITE_ENSURE`` failing in a quantize or dequantize kernel on a
tensor's type (``quantize.cpp:58 input->type == kTfLiteFloat32 || … was not true``)."""


def quantize_kernel_type(ctx: Context) -> None:
    """Report a quantize or dequantize kernel refusing the type of a model's tensor.

    The kernel checks the types it converts between; a model quantized with a scheme this
    runtime's kernels do not run (uint8 where a release takes only int8, int16 activations)
    fails that check when the interpreter prepares the model. A type check in any other
    kernel is not read here.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    check = QUANTIZE_KERNEL_CHECK.search(facts.text)
    if check is None:
        return
    kernel, condition = check.groups()
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"the {kernel} kernel refused a tensor's type ({' '.join(condition.split())}): "
                "the model was quantized with a scheme this runtime's kernels do not run "
                "(uint8 where it takes int8, another activation type)"
            ),
            evidence={"kernel": kernel, "check": " ".join(condition.split())},
            confidence=0.45,
            fix_note=(
                "convert the model again with the quantization the runtime supports "
                "(full-integer int8 for TensorFlow Lite Micro), or use a runtime release "
                "that runs this scheme"
            ),
        )
    )


QUANT_TAG = re.compile(
    r"(?<![A-Za-z0-9])(bnb|nf4|fp4|fp8|int[48]|[48]bit|gptq|awq|exl2|e4m3fn|e5m2|hqq|"
    r"q[2-8]_(?:[01]|k(?:_[sml])?))(?![A-Za-z0-9])",
    re.I,
)
"""A quantization format's tag in a weights file's name (``…_bnb_fp4.safetensors``,
``…-gptq-4bit``): the file holds packed weights of that format, not a float model."""
NATIVE_QUANT = (".gguf", ".ggml")
"""Formats whose files are quantized by design: their tag names a type, not a format the
loader may lack."""


def quantized_file_refused(ctx: Context) -> None:
    """Report a loader refusing, with no reason given, a file its name marks as quantized.

    The text names no tensor, no shape and no other cause, only that the file did not load;
    the one weights file it names carries a quantization format's tag. A file of packed
    weights is read only by a loader (or backend) that has that format's kernels, so the
    refusal is most likely that format not being supported. Runs last, before ``unknown``.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.missing() or ctx.unexpected() or ctx.mismatches():
        return
    if len(facts.files) != 1 or facts.files[0].lower().endswith(NATIVE_QUANT):
        return
    tag = QUANT_TAG.search(facts.files[0])
    if tag is None:
        return
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"the loader refused {facts.files[0]} without a reason, and its name marks "
                f"weights quantized as {tag.group(1)}: packed weights load only where that "
                "format's kernels are installed and supported"
            ),
            evidence={"file": facts.files[0], "tag": tag.group(1)},
            confidence=0.35,
            fix_note=(
                f"install or enable the backend's support for {tag.group(1)} weights "
                "(bitsandbytes, the quantizer's extension), or use an unquantized or "
                "supported-format file"
            ),
        )
    )

"""Rules of the ``text`` profile over what an inference runtime refuses in a converted model.

A runtime checks each operator's tensors against the types its kernels take. A half-precision
type on an operator input the schema takes only in full precision is a conversion to fp16
that went too far (``half_operator_input`` → ``dtype_variant``); a quantize or dequantize
kernel refusing its tensor's type is a quantization scheme the runtime does not run
(``quantize_kernel_type`` → ``quantization``); a loader refusing, without a reason, a file
whose name gives its quantization format is that format unsupported
(``quantized_file_refused`` → ``quantization``; an 8-bit float's tag, ``fp8``, →
``dtype_variant``). A GGML reader calling a float type "unsupported quantization type" is a
float file its quantized-only code has no arm for (``float_ggml_type`` → ``dtype_variant``);
an operator whose weight input is int8 where its input is float is a model saved in int8
storage that the framework's float kernels cannot run (``int8_weights`` → ``quantization``);
a runtime's ``--quantization`` option without the format the model is in is a release that
does not run it (``quantization_choice`` → ``version``); a quantization library's package
missing where a loader asks for it is a quantized checkpoint (``quantization_package`` →
``quantization``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding
from weightfit.formats.gguf import GGML_TYPES

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
    r"(?<![A-Za-z0-9])(bnb|nf4|fp4|int[48]|[48]bit|gptq|awq|exl2|hqq|"
    r"q[2-8]_(?:[01]|k(?:_[sml])?))(?![A-Za-z0-9])",
    re.I,
)
PRECISION_TAG = re.compile(r"(fp8|float8\w*|e4m3fn|e5m2)(?![A-Za-z0-9])", re.I)
"""An 8-bit float's tag in a weights file's name, glued to the part before it too
(``sd3_medium_incl_clips_t5xxlfp8.safetensors``, ``t5xxl_fp8_e4m3fn``): the precision
loaders most often lack (fp16, bf16 and fp32 files are named so as often as not, and load)."""
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
        precision = PRECISION_TAG.search(facts.files[0])
        if precision is not None:
            ctx.add(_precision_file_refused(facts.files[0], precision.group(1)))
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


def _precision_file_refused(file: str, tag: str) -> Finding:
    """A loader refusing without a reason a file whose name gives its precision (fp8)."""
    return Finding(
        category="dtype_variant",
        severity="error",
        message=(
            f"the loader refused {file} without a reason, and its name marks weights stored "
            f"in {tag}: a precision many loaders (and older releases) have no reader or "
            "kernel for"
        ),
        evidence={"file": file, "tag": tag},
        confidence=0.35,
        fix_note=(
            "use a release of the loader that reads this precision, or the file's fp16 / "
            "fp32 variant (or cast it once with a tool that reads it)"
        ),
    )


GGML_TYPE_REFUSED = re.compile(
    r"(?:unsupported|unknown)\s+(?:quantization|tensor|ggml)\s+type[:\s]+(\d+)\b", re.I
)
"""A GGML reader refusing a tensor type by its ``enum ggml_type`` id (``Unsupported
quantization type: 30``)."""
FLOAT_GGML = frozenset(("F32", "F16", "BF16", "F64"))


def float_ggml_type(ctx: Context) -> None:
    """Report a GGML reader refusing a float type as an unsupported quantization type.

    Code written for quantized GGUF files dispatches on the tensor type, and a type it has
    no arm for is reported by its id whatever it is. An id of ``enum ggml_type`` that is a
    plain float (1 ``F16``, 30 ``BF16``) is the file's precision, not a quantization format:
    the file is a float export (another precision variant of the model) the reader does not
    take. A quantized type's id stays the quantization rules'.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    refused = GGML_TYPE_REFUSED.search(facts.text)
    if refused is None:
        return
    name = GGML_TYPES.get(int(refused.group(1)), "")
    if name not in FLOAT_GGML:
        return
    ctx.add(
        Finding(
            category="dtype_variant",
            severity="error",
            message=(
                f"the reader refused GGML type {refused.group(1)}, which is {name}, a plain "
                "float type, not a quantization format: the file is a float export of the "
                "model, a precision this reader has no code for"
            ),
            evidence={"ggml_type": int(refused.group(1)), "dtype": name},
            confidence=0.45,
            fix_note=(
                f"use a quantized (or F32) variant of the model, or a reader release that "
                f"handles {name} tensors"
            ),
        )
    )


INT8_OPERAND = re.compile(
    r"input_data_type:(\d+)\s*!=\s*filter_data_type:(\d+)|"
    r"must\s+be\s+the\s+same\.\s+Get\s+\((\w+)\)\s*!=\s*\((\w+)\)"
)
"""PaddlePaddle's operator type checks: a convolution's input against its filter by
``VarType`` code (``input_data_type:5 != filter_data_type:21``), an operator's two inputs by
C++ type (``op mul Y must be the same. Get (float) != (int8_t)``)."""
PADDLE_VAR_TYPES = {
    4: "float16",
    5: "float32",
    6: "float64",
    20: "uint8",
    21: "int8",
    22: "bfloat16",
}
"""``VarType.Type`` codes of ``framework.proto`` a weight or activation holds."""
FLOAT_TYPES = frozenset(("float", "double", "float16", "float32", "float64", "bfloat16"))
INT8_TYPES = frozenset(("int8", "uint8", "int8_t", "uint8_t"))


def int8_weights(ctx: Context) -> None:
    """Report an operator given float activations and int8 weights.

    A quantization tool that saves the model with its weights stored as int8 (PaddleSlim's
    ``int8_model``) makes a file for an int8 inference engine; the framework's own float
    kernels check that their inputs share one type and refuse it on the first operator.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    check = INT8_OPERAND.search(facts.text)
    if check is None:
        return
    if check.group(1) is not None:
        have = PADDLE_VAR_TYPES.get(int(check.group(1)), "")
        weight = PADDLE_VAR_TYPES.get(int(check.group(2)), "")
    else:
        have, weight = check.group(3), check.group(4)
    if not ({have, weight} & FLOAT_TYPES and {have, weight} & INT8_TYPES):
        return
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"an operator met {have} against {weight} ({check.group(0)}): the model's "
                "weights are stored as int8, a quantized save for an int8 engine, which the "
                "framework's float kernels cannot run"
            ),
            evidence={"check": check.group(0)},
            confidence=0.45,
            fix_note=(
                "load the float save of the quantized model (same values, float storage), or "
                "run the int8 one with the inference engine it was made for"
            ),
        )
    )


QUANTIZATION_CHOICE = re.compile(
    r"argument\s+(--quantization\S*|-q\b\S*):\s+invalid\s+choice:\s+'([^'\n]+)'"
)
"""argparse refusing a runtime's ``--quantization`` value (vLLM, Aphrodite, SGLang)."""
QUANT_METHOD = re.compile(
    r"gptq\w*|awq\w*|exl[23]|aqlm|gguf|bitsandbytes|bnb|\w*fp8\w*|eetq|hqq|quip\w*|squeezellm|"
    r"\w*marlin\w*|compressed[-_]tensors|modelopt\w*|torchao|mx?fp4|nvfp4|int[48]|w[48]a\d+|qqq",
    re.I,
)
"""The quantization methods serving runtimes register under their option's choices."""


def quantization_choice(ctx: Context) -> None:
    """Report a runtime whose ``--quantization`` choices lack the model's format.

    The choices are the quantization methods this release of the runtime registers; a
    known format refused there (``exl2``) is one the installed release does not run, added
    in a later one or dropped. A value that is no quantization format is a typo, not read.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    choice = QUANTIZATION_CHOICE.search(facts.text)
    if choice is None or not QUANT_METHOD.fullmatch(choice.group(2)):
        return
    method = choice.group(2)
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the runtime's {choice.group(1)} option does not offer '{method}': the "
                f"installed release does not run {method} weights (a later one adds them, or "
                "this one dropped them)"
            ),
            evidence={"option": choice.group(1), "method": method},
            confidence=0.4,
            fix_note=(
                f"install a release of the runtime that lists {method} among its "
                "quantization methods, or use the model in a format this release runs"
            ),
        )
    )


QUANT_PACKAGES = frozenset(
    (
        "auto-gptq",
        "auto_gptq",
        "autoawq",
        "awq",
        "gptqmodel",
        "bitsandbytes",
        "hqq",
        "eetq",
        "aqlm",
        "compressed-tensors",
        "compressed_tensors",
        "optimum-quanto",
        "quanto",
        "exllama",
        "exllamav2",
        "llmcompressor",
    )
)
"""Libraries whose only job is running weights in their quantized format."""
PACKAGE_ABSENT = re.compile(
    r"no\s+package\s+metadata\s+was\s+found\s+for\s+['\"`]?([\w\-]+)|"
    r"PackageNotFoundError:\s+['\"`]?([\w\-]+)|No\s+module\s+named\s+['\"`]([\w\-]+)",
    re.I,
)
"""``importlib.metadata`` asked for an installed package's version, or an import, failing."""


def quantization_package(ctx: Context) -> None:
    """Report a loader needing a quantization library that is not installed.

    transformers (and the servers built on it) check for the library of the checkpoint's
    quantization method (its ``quantization_config``) before building the model, and read
    its installed version through ``importlib.metadata``; the library missing means the
    checkpoint is stored quantized in that library's format.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    absent = PACKAGE_ABSENT.search(facts.text)
    if absent is None:
        return
    package = next(g for g in absent.groups() if g)
    if package.lower() not in QUANT_PACKAGES:
        return
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"{package} is not installed, and the loader asked for it: the checkpoint is "
                f"stored quantized in the format {package} runs, which loads only with it"
            ),
            evidence={"package": package},
            confidence=0.45,
            fix_note=(
                f"install {package} (in the release the checkpoint's quantization_config "
                "asks for), or load an unquantized variant of the model"
            ),
        )
    )

"""Rules of the ``text`` profile over models shipped as several files in one folder or release.

A face-analysis pack is a folder of ONNX models, one per task; a loader that gathers the
folder's models and asserts that a task's model is among them fails when that file is absent
where it looks (``absent_component`` → ``missing``). A Paddle inference model is a program
and a parameters file; a reader given only the program finds no value for its parameters
(``program_without_params`` → ``partitioned``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

COMPONENT_ASSERTION = re.compile(
    r"assert\s+(['\"])(\w+)\1\s+in\s+((?:self\.)?\w*models?)\b(?!\s*\()", re.I
)
"""A loader asserting that a component is among the models it gathered (insightface's
``FaceAnalysis``: ``assert 'detection' in self.models``, after loading every ``.onnx`` of
the pack's folder by the task each one declares)."""


def absent_component(ctx: Context) -> None:
    """Report a component model absent from the folder a loader gathered its models from.

    The loader read every model file it found in the pack's folder, keyed by what each one
    does, and the component it needs is not among them: its file is absent there (never
    downloaded, or unpacked into a nested folder of the same name where the loader does not
    look).
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.missing() or ctx.unexpected() or ctx.mismatches():
        return
    assertion = COMPONENT_ASSERTION.search(facts.text)
    if assertion is None:
        return
    component, collection = assertion.group(2), assertion.group(3)
    ctx.add(
        Finding(
            category="missing",
            severity="error",
            message=(
                f"the loader gathered the models of a pack's folder into {collection} and "
                f"found no '{component}' model among them: that component's file is absent "
                "where the loader looks (not downloaded, or unpacked into a nested folder)"
            ),
            evidence={"component": component, "collection": collection},
            confidence=0.45,
            fix_note=(
                f"put the pack's model files (the '{component}' one among them) directly in "
                "the folder the loader reads, not in a nested folder of the same name"
            ),
        )
    )


PADDLE_PROGRAM = re.compile(r"[\w.\-/\\]+\.pdmodel\b|--model_filename\b|\b__model__\b")
"""A Paddle inference model's program file (``inference.pdmodel``, older ``__model__``): the
network's graph, whose parameters live in a second file."""
PADDLE_PARAMS = re.compile(r"\.pdiparams\b|params_filename|params_file\b|\b__params__\b")
"""A Paddle inference model's parameters file, or the option that names it."""
UNDEFINED_PARAMETER = re.compile(
    r"\b(?:Input|Variable|Parameter|Var)\s+['\"]?([\w.]+)['\"]?\s+(?:is\s+undefined|"
    r"(?:is\s+)?not\s+(?:found|initialized|exist(?:s|ed)?))",
    re.I,
)
"""A reader finding no value for a parameter of the program (``Input conv2d_0.w_0 is
undefined!``)."""


def program_without_params(ctx: Context) -> None:
    """Report a Paddle program file given without its parameters file.

    A Paddle inference model is two files: the program (``.pdmodel``) and its parameters
    (``.pdiparams``). When the text names the program (or its option) and nothing of the
    parameters file, and the reader finds no value for a parameter, the weights piece of the
    pair was never given to it.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    text = facts.text
    program = PADDLE_PROGRAM.search(text)
    undefined = UNDEFINED_PARAMETER.search(text)
    if program is None or undefined is None or PADDLE_PARAMS.search(text) is not None:
        return
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the reader found no value for the parameter {undefined.group(1)}, and the "
                f"text gives the program file ({program.group(0)}) and no parameters file: a "
                "Paddle inference model keeps its weights in a second file (.pdiparams) that "
                "was not passed"
            ),
            evidence={"parameter": undefined.group(1), "program": program.group(0)},
            confidence=0.45,
            fix_note=(
                "pass the parameters file too (--params_filename inference.pdiparams, or "
                "params_file=…), from the same export as the program"
            ),
        )
    )


COMPONENTS = (
    "backbone",
    "text_encoder",
    "vision_encoder",
    "image_encoder",
    "encoder",
    "decoder",
    "head",
    "vae",
    "unet",
    "projector",
    "adapter",
)
"""The parts a model's release may ship as separate files, as they are spelled in option and
file names (longest first, so ``text_encoder`` is not read as ``encoder``)."""
COMPONENT_OPTION = re.compile(
    r"--?(?P<opt>" + "|".join(COMPONENTS) + r")[_-](?:weights|path|ckpt|checkpoint)\b"
    r"(?:\s*=\s*|\s+)['\"]?(?P<file>[^\s'\",)]+\.(?:pth?|pt|ckpt|bin|safetensors|npz|h5))\b"
    r"|(?P<kw>" + "|".join(COMPONENTS) + r")_(?:weights|path|ckpt|checkpoint)\s*=\s*"
    r"['\"](?P<kwfile>[^'\"\n]+\.(?:pth?|pt|ckpt|bin|safetensors|npz|h5))['\"]",
    re.I,
)
"""An option or keyword argument that takes one component's weights, given a file
(``backbone_weights="…_head_and_text_encoder.pth"``, ``--vae_path unet.safetensors``)."""


def _components_named(file: str) -> list[str]:
    """The components a file's name names, each once (``text_encoder`` not also ``encoder``)."""
    stem = re.sub(r"[^a-z0-9]+", "_", file.lower().rsplit("/", 1)[-1])
    found: list[str] = []
    for part in COMPONENTS:
        if re.search(rf"(?:^|_){part}(?:_|$)", stem):
            stem = re.sub(rf"(?:^|_){part}(?:_|$)", "_", stem)
            found.append(part)
    return found


def component_option(ctx: Context) -> None:
    """Report an option for one component's weights given the file of other components.

    A release that ships its parts as separate files (a backbone, a head, a text encoder)
    names each file for what it holds. An option that takes one part's weights, given a file
    whose name names only other parts, was given another file of the release.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.missing() or ctx.unexpected() or ctx.mismatches():
        return
    for given in COMPONENT_OPTION.finditer(facts.text):
        option = (given["opt"] or given["kw"]).lower()
        file = given["file"] or given["kwfile"]
        named = _components_named(file)
        if not named or option in named:
            continue
        ctx.add(
            Finding(
                category="partitioned",
                severity="error",
                message=(
                    f"the {option} weights were given {file}, whose name says it holds "
                    f"the {' and '.join(named)}, not the {option}: another file of a release "
                    "that ships its parts separately"
                ),
                evidence={"option": option, "file": file, "file_holds": named},
                confidence=0.4,
                fix_note=(
                    f"give the {option} option the release's {option} file, and the "
                    f"{' and '.join(named)} file to the option that takes it"
                ),
            )
        )
        return

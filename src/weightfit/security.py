"""What each global a pickle names would do if it were imported: a verdict per name.

A pickle can name any importable object (``GLOBAL``/``STACK_GLOBAL``) and call
it (``REDUCE``, ``NEWOBJ``, ``BUILD``). weightfit's pickle VM never imports or
calls anything; it asks :func:`verdict` about every name it meets, so a person
learns what *loading* the file with ``torch.load(weights_only=False)`` or
``pickle.load`` would do.

The four verdicts, from best to worst (``Manifest.security`` is the worst seen):

``safe``
    Names PyTorch's own ``weights_only`` unpickler allows (tensor rebuild
    functions, storage and dtype names, ``collections.OrderedDict``,
    ``torch.Size`` ...), plus the plain-data dataclasses of
    ``torch.distributed.checkpoint`` metadata.
``benign``
    Harmless data holders common in training checkpoints that ``weights_only``
    rejects: ``argparse.Namespace``, numpy arrays, scalars and dtypes,
    ``pathlib`` paths, omegaconf containers, ``datetime`` values, and PyTorch's
    own ``torch.nn.modules.*`` layer classes (a whole pickled model). Importing
    them runs library code only, never code from the file.
``unknown``
    Anything else: user classes (``__main__.Net``), other libraries. Importing
    one runs that module's code; weightfit reports the name and goes on.
``dangerous``
    Names that run code, touch files, processes or the network, or reach other
    names (``os.system``, ``builtins.eval``/``exec``/``getattr``, ``subprocess``,
    ``pickle.loads`` on embedded bytes, ``torch.load`` of nested bytes,
    ``torch.fx`` graph modules that ``exec`` source ...). A file naming one is
    refused with :class:`~weightfit.errors.ForbiddenPickleContent`.

Sources: ``torch/_weights_only_unpickler.py`` (``_get_allowed_globals``,
``_tensor_rebuild_functions``) and the Python ``pickle`` documentation,
"Restricting Globals".
"""

from __future__ import annotations

from weightfit.manifest import SecurityVerdict

RANK: dict[SecurityVerdict, int] = {"safe": 0, "benign": 1, "unknown": 2, "dangerous": 3}
"""Order of the verdicts, best first."""

PY2_MODULES = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "cPickle": "pickle",
    "exceptions": "builtins",
    "commands": "subprocess",
    "UserDict": "collections",
}
"""Python 2 module names and where ``pickle`` (``fix_imports``) sends them (``_compat_pickle``)."""

TORCH_DTYPE_NAMES = frozenset(
    {
        "float16", "float32", "float64", "bfloat16", "half", "float", "double",
        "complex32", "complex64", "complex128", "cfloat", "cdouble",
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "bool", "long", "int", "short",
        "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
        "float4_e2m1fn_x2",
        "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
        "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
        *(f"int{n}" for n in range(1, 8)),
        *(f"uint{n}" for n in range(1, 8)),
    }
)  # fmt: skip
"""``torch.<dtype>`` globals (``torch.storage._dtype_to_storage_type_map``, ``_new_dtypes``)."""

TORCH_STORAGE_NAMES = frozenset(
    {
        "DoubleStorage", "FloatStorage", "HalfStorage", "BFloat16Storage",
        "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
        "ComplexFloatStorage", "ComplexDoubleStorage",
        "QInt8Storage", "QInt32Storage", "QUInt8Storage", "QUInt4x2Storage", "QUInt2x4Storage",
    }
)  # fmt: skip
"""Typed storage classes (``torch._storage_classes``), pickled as ``torch.<Name>``."""

TENSOR_REBUILDS = frozenset(
    {
        "_rebuild_tensor",
        "_rebuild_tensor_v2",
        "_rebuild_tensor_v3",
        "_rebuild_parameter",
        "_rebuild_parameter_with_state",
        "_rebuild_qtensor",
        "_rebuild_sparse_tensor",
        "_rebuild_meta_tensor_no_storage",
        "_rebuild_nested_tensor",
        "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_numpy",
        "_rebuild_device_tensor_from_cpu_tensor",
    }
)
"""``torch._utils`` rebuild functions (``_tensor_rebuild_functions``)."""

_SAFE = frozenset(
    {
        "collections.OrderedDict",
        "collections.Counter",
        "collections.defaultdict",
        "torch.nn.parameter.Parameter",
        "torch.serialization._get_layout",
        "torch.Size",
        "torch.Tensor",
        "torch.device",
        "torch._tensor._rebuild_from_type_v2",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.UntypedStorage",
        "torch.TypedStorage",
        "_codecs.encode",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.set",
        "builtins.frozenset",
        "builtins.complex",
        "builtins.slice",
        "builtins.range",
        "builtins.list",
        "builtins.tuple",
        "builtins.dict",
        "builtins.int",
        "builtins.float",
        "builtins.str",
        "builtins.bool",
        "torch.strided",
        "torch.sparse_coo",
        "torch.sparse_csr",
        "torch.sparse_csc",
        "torch.sparse_bsr",
        "torch.sparse_bsc",
        "torch.jagged",
        "torch.contiguous_format",
        "torch.channels_last",
        "torch.channels_last_3d",
        "torch.preserve_format",
        "torch.per_tensor_affine",
        "torch.per_tensor_symmetric",
        "torch.per_channel_affine",
        "torch.per_channel_symmetric",
        "torch.per_channel_affine_float_qparams",
        "torch.distributed.checkpoint.metadata.Metadata",
        "torch.distributed.checkpoint.metadata.TensorStorageMetadata",
        "torch.distributed.checkpoint.metadata.BytesStorageMetadata",
        "torch.distributed.checkpoint.metadata.ChunkStorageMetadata",
        "torch.distributed.checkpoint.metadata.TensorProperties",
        "torch.distributed.checkpoint.metadata.MetadataIndex",
        "torch.distributed.checkpoint.metadata.StorageMeta",
        "torch.distributed.checkpoint.metadata._MEM_FORMAT_ENCODING",
        "torch.distributed.checkpoint.filesystem._StorageInfo",
    }
)

_BENIGN = frozenset(
    {
        "argparse.Namespace",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "pathlib.Path",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "pathlib.PurePath",
        "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "datetime.datetime",
        "datetime.date",
        "datetime.time",
        "datetime.timedelta",
        "datetime.timezone",
        "decimal.Decimal",
        "fractions.Fraction",
        "uuid.UUID",
        "typing.Any",
        "copyreg._reconstructor",
        "copyreg.__newobj__",
        "copyreg.__newobj_ex__",
        "builtins.object",
        "torch.torch_version.TorchVersion",
    }
)

_BENIGN_MODULES = (
    "numpy.dtypes",
    "omegaconf.dictconfig",
    "omegaconf.listconfig",
    "omegaconf.base",
    "omegaconf.nodes",
    "torch.nn.modules",
)
"""Modules whose every name is a harmless data holder or a PyTorch layer class."""

_DANGEROUS_MODULES = {
    "os": "reaches the operating system (files, processes, shell)",
    "posix": "reaches the operating system (files, processes, shell)",
    "nt": "reaches the operating system (files, processes, shell)",
    "posixpath": "reaches the file system",
    "ntpath": "reaches the file system",
    "subprocess": "starts processes",
    "pty": "starts processes",
    "multiprocessing": "starts processes",
    "_posixsubprocess": "starts processes",
    "sys": "changes the interpreter",
    "shutil": "copies, moves or deletes files",
    "tempfile": "creates files",
    "io": "opens files",
    "_io": "opens files",
    "socket": "opens network connections",
    "ssl": "opens network connections",
    "urllib": "opens network connections",
    "http": "opens network connections",
    "ftplib": "opens network connections",
    "smtplib": "opens network connections",
    "telnetlib": "opens network connections",
    "requests": "opens network connections",
    "httpx": "opens network connections",
    "webbrowser": "opens programs",
    "asyncio": "starts processes and connections",
    "runpy": "runs code",
    "code": "runs code",
    "codeop": "compiles code",
    "importlib": "imports arbitrary modules",
    "imp": "imports arbitrary modules",
    "pkgutil": "imports arbitrary modules",
    "zipimport": "imports arbitrary modules",
    "site": "changes the interpreter",
    "pickle": "unpickles nested data, which can run code",
    "_pickle": "unpickles nested data, which can run code",
    "dill": "unpickles nested data, which can run code",
    "cloudpickle": "unpickles nested data, which can run code",
    "joblib": "unpickles nested data, which can run code",
    "marshal": "loads code objects",
    "types": "builds functions and code objects",
    "ctypes": "calls native code",
    "_ctypes": "calls native code",
    "cffi": "calls native code",
    "signal": "changes the interpreter",
    "threading": "starts threads running code",
    "_thread": "starts threads running code",
    "pdb": "runs code",
    "bdb": "runs code",
    "timeit": "runs code from strings",
    "trace": "runs code",
    "profile": "runs code from strings",
    "cProfile": "runs code from strings",
    "operator": "reaches attributes and calls methods by name",
    "_operator": "reaches attributes and calls methods by name",
    "platform": "starts processes",
    "torch.package": "imports packaged code",
    "torch.hub": "downloads and runs code",
    "torch.utils.cpp_extension": "compiles and loads native code",
    "torch.fx": "executes generated source code",
    "torch.jit": "loads and runs TorchScript code",
    "torch._dynamo": "compiles and runs code",
    "numpy.testing": "runs code from strings",
    "numpy.f2py": "compiles and loads native code",
    "numpy.distutils": "compiles and loads native code",
    "numpy.lib.npyio": "unpickles nested data, which can run code",
}
"""Modules (and their submodules) that can run code or reach outside the process."""

_DANGEROUS_NAMES = {
    "builtins.eval": "evaluates code from a string",
    "builtins.exec": "executes code from a string",
    "builtins.execfile": "executes code from a file",
    "builtins.compile": "compiles code",
    "builtins.__import__": "imports arbitrary modules",
    "builtins.getattr": "reaches any attribute, and through it any function",
    "builtins.setattr": "changes any attribute",
    "builtins.delattr": "deletes any attribute",
    "builtins.open": "opens files",
    "builtins.input": "reads the terminal",
    "builtins.breakpoint": "starts a debugger",
    "builtins.globals": "reaches the interpreter's globals",
    "builtins.locals": "reaches the interpreter's locals",
    "builtins.vars": "reaches any object's attributes",
    "builtins.apply": "calls any function",
    "builtins.__build_class__": "builds classes from code",
    "builtins.type": "builds classes",
    "torch.load": "unpickles nested data, which can run code",
    "torch.serialization.load": "unpickles nested data, which can run code",
    "torch.serialization._load": "unpickles nested data, which can run code",
    "torch.storage._load_from_bytes": "unpickles nested data, which can run code",
    "torch._C._load_for_lite_interpreter": "loads and runs TorchScript code",
    "torch._ops.ops": "calls any registered operator",
    "torch.ops": "calls any registered operator",
    "numpy.load": "unpickles nested data, which can run code",
    "numpy.fromfile": "reads files",
    "numpy.save": "writes files",
    "numpy.tofile": "writes files",
}
"""Single names that can run code or reach outside the process."""

_CODE_RUNNING_NAMES = frozenset(
    {
        "eval", "exec", "execfile", "system", "popen", "Popen", "spawn", "spawnl", "spawnv",
        "execv", "execve", "execl", "fork", "forkpty", "getoutput", "getstatusoutput",
        "check_output", "check_call", "run_path", "run_module", "load", "loads", "__import__",
        "import_module", "compile",
    }
)  # fmt: skip
"""Names that run code whatever module they come from (a renamed ``os`` or a wrapper)."""


def normalize(module: str, name: str) -> tuple[str, str]:
    """Map a name to what Python 3's ``pickle`` would import (``__builtin__`` → ``builtins``)."""
    return PY2_MODULES.get(module, module), name


def _within(module: str, root: str) -> bool:
    return module == root or module.startswith(root + ".")


def is_tensor_rebuild(module: str, name: str) -> bool:
    """Whether ``module.name`` is one of PyTorch's tensor rebuild functions."""
    return (module == "torch._utils" and name in TENSOR_REBUILDS) or (
        module == "torch._tensor" and name == "_rebuild_from_type_v2"
    )


def is_storage_type(module: str, name: str) -> bool:
    """Whether ``module.name`` names a storage class (typed or untyped)."""
    if module in ("torch", "torch.cuda") and name in TORCH_STORAGE_NAMES:
        return True
    return f"{module}.{name}" in (
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.UntypedStorage",
        "torch.TypedStorage",
    )


def is_tensor_class(module: str, name: str) -> bool:
    """Whether ``module.name`` is a legacy tensor class (``torch.FloatTensor``)."""
    return (
        module in ("torch", "torch.cuda")
        and name.endswith("Tensor")
        and name.removesuffix("Tensor") + "Storage" in TORCH_STORAGE_NAMES
    )


def is_dtype(module: str, name: str) -> bool:
    """Whether ``module.name`` names a torch dtype (``torch.bfloat16``)."""
    return module == "torch" and name in TORCH_DTYPE_NAMES


def danger(module: str, name: str) -> str | None:
    """Why importing ``module.name`` is dangerous, or ``None`` when it is not.

    Dotted names (``name="a.b"``, protocol 4) walk attributes after the import,
    so they can reach any object the module holds; they count as dangerous
    unless the full path is known safe or benign.
    """
    module, name = normalize(module, name)
    full = f"{module}.{name}"
    if full in _DANGEROUS_NAMES:
        return _DANGEROUS_NAMES[full]
    for root, why in _DANGEROUS_MODULES.items():
        if _within(module, root):
            return why
    if "__" in name.strip("_") or (name.startswith("__") and full not in _BENIGN):
        return "reaches interpreter internals through a dunder name"
    if "." in name and full not in _SAFE and full not in _BENIGN:
        return "walks attributes of a module, which can reach any function"
    if name in _CODE_RUNNING_NAMES:
        return "has the name of a function that runs code"
    if not module or not name:
        return "names no importable object"
    return None


def verdict(module: str, name: str) -> SecurityVerdict:
    """Judge what importing ``module.name`` would do (see the module docstring).

    Args:
        module: The module a ``GLOBAL`` or ``STACK_GLOBAL`` opcode names.
        name: The attribute it names in that module.

    Returns:
        ``"safe"``, ``"benign"``, ``"unknown"`` or ``"dangerous"``.

    Example:
        >>> verdict("torch._utils", "_rebuild_tensor_v2"), verdict("posix", "system")
        ('safe', 'dangerous')

    """
    module, name = normalize(module, name)
    full = f"{module}.{name}"
    if full in _SAFE or is_tensor_rebuild(module, name):
        return "safe"
    if is_storage_type(module, name) or is_dtype(module, name) or is_tensor_class(module, name):
        return "safe"
    if danger(module, name) is not None:
        return "dangerous"
    if full in _BENIGN or any(_within(module, root) for root in _BENIGN_MODULES):
        return "benign"
    return "unknown"


def worst(*verdicts: SecurityVerdict | None) -> SecurityVerdict | None:
    """Return the worst of several verdicts (``None`` entries are ignored)."""
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    return max(known, key=RANK.__getitem__)

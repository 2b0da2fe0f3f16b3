"""What each global a pickle names would do if it were imported: a verdict per name.

A pickle can name any importable object (``GLOBAL``/``STACK_GLOBAL``) and call
it (``REDUCE``, ``NEWOBJ``, ``BUILD``). weightfit's pickle VM never imports or
calls anything; it asks :func:`verdict` about every name it meets, so a person
learns what *loading* the file with ``torch.load`` and ``weights_only=False``, or
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

from collections.abc import Collection, Iterable

from weightfit.manifest import OpaqueGlobal, SecurityVerdict

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
        # A pickled logger is ``getLogger(name)`` (Logger.__reduce__): it makes no handler.
        "logging.getLogger",
        # TorchScript's pickler (torch/jit/_pickle.py): each returns its argument.
        "torch.jit._pickle.build_intlist",
        "torch.jit._pickle.build_tensorlist",
        "torch.jit._pickle.build_doublelist",
        "torch.jit._pickle.build_boollist",
        "torch.jit._pickle.build_tensor_from_id",
        "torch.jit._pickle.restore_type_tag",
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

# Where a row comes from: the deny-lists of the scanners people already use,
# read at a pinned commit (names and reasons rewritten here, no code copied).
PICKLESCAN = "picklescan"
"""mmaitre314/picklescan@f15d54da3dec, src/picklescan/scanner.py ``_unsafe_globals``."""
MODELSCAN = "modelscan"
"""protectai/modelscan@8b8ed4bf78a8, modelscan/settings.py ``unsafe_globals``."""
FICKLING = "fickling"
"""trailofbits/fickling@854c99acd263, fickling/fickle.py ``UNSAFE_IMPORTS`` and
fickling/analysis.py ``UnsafeImportsML``."""
WEIGHTFIT = "weightfit"
"""Added here, from the Python and PyTorch sources."""

_P, _M, _F, _W = PICKLESCAN, MODELSCAN, FICKLING, WEIGHTFIT

_OS = "reaches the operating system (files, processes, shell)"
_PROC = "starts processes"
_NET = "opens network connections"
_FILES = "reads, writes or deletes files"
_CODE = "runs code"
_IMPORT = "imports arbitrary modules"
_NESTED = "unpickles nested data, which can run code"
_CODE_OBJECTS = "rebuilds functions from code objects"
_NATIVE = "calls native code"
_ATTR = "reaches attributes and calls methods by name"
_INTERP = "changes the interpreter"

_DANGEROUS_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    # processes and the operating system
    "os": (_OS, (_P, _M, _F)),
    "posix": (_OS, (_P, _M, _F)),
    "nt": (_OS, (_P, _M, _F)),
    "posixpath": ("reaches the file system", (_W,)),
    "ntpath": ("reaches the file system", (_W,)),
    "subprocess": (_PROC, (_P, _M, _F)),
    "_posixsubprocess": (_PROC, (_F,)),
    "commands": (_PROC, (_P, _F)),
    "popen2": (_PROC, (_W,)),
    "pty": (_PROC, (_P, _M, _F)),
    "pexpect": (_PROC, (_F,)),
    "pipes": ("runs shell commands (pipes.Template)", (_F,)),
    "multiprocessing": (_PROC, (_F,)),
    "concurrent": ("starts processes and threads running code", (_W,)),
    "platform": ("starts processes", (_F,)),
    "_osx_support": ("runs shell commands (_read_output, _find_build_tool)", (_P, _F)),
    "_aix_support": ("runs shell commands (_read_cmd_output)", (_P, _F)),
    "_pyrepl": ("runs pager commands (pager.pipe_pager)", (_P,)),
    "_winapi": (_PROC, (_W,)),
    "msvcrt": (_OS, (_W,)),
    "winreg": ("changes the Windows registry", (_W,)),
    "_winreg": ("changes the Windows registry", (_W,)),
    "uuid": ("runs shell commands (_get_command_stdout, the getnode helpers)", (_P, _F)),
    "pydoc": ("runs pager commands (pipepager) and imports modules (locate)", (_P, _F)),
    "webbrowser": ("opens programs", (_P, _M, _F)),
    "sys": (_INTERP, (_P, _M, _F)),
    "site": (_INTERP, (_F,)),
    "signal": (_INTERP, (_F,)),
    "_signal": (_INTERP, (_F,)),
    "atexit": ("registers code to run at exit", (_F,)),
    "gc": ("reaches every object in the interpreter", (_F,)),
    "inspect": ("reaches any attribute (getattr_static) and frame", (_F,)),
    "threading": ("starts threads running code", (_F,)),
    "_thread": ("starts threads running code", (_F,)),
    "resource": (_INTERP, (_W,)),
    # files
    "shutil": ("copies, moves or deletes files", (_P, _M, _F)),
    "tempfile": ("creates files", (_F,)),
    "io": ("opens files", (_F,)),
    "_io": ("opens files", (_P, _F)),
    "fileinput": ("reads files", (_F,)),
    "linecache": ("reads files", (_F,)),
    "glob": ("lists files", (_F,)),
    "filecmp": ("reads files", (_F,)),
    "tarfile": ("extracts and writes files", (_F,)),
    "zipfile": ("extracts and writes files", (_F,)),
    "shelve": ("opens database files, which unpickle their values", (_F,)),
    "dbm": ("opens database files", (_W,)),
    "sqlite3": ("opens database files", (_F,)),
    "_sqlite3": ("opens database files", (_F,)),
    "mmap": ("maps files into memory", (_F,)),
    "compileall": ("compiles and writes files", (_F,)),
    "py_compile": ("compiles and writes files", (_F,)),
    "distutils": ("runs build commands and writes files", (_P, _F)),
    "setuptools": ("runs build commands and writes files", (_W,)),
    "logging": ("opens files and sockets through its handlers; config.listen runs code", (_P, _F)),
    "syslog": ("writes to the system log", (_F,)),
    # network
    "socket": (_NET, (_P, _M, _F)),
    "_socket": (_NET, (_W,)),
    "ssl": (_NET, (_P, _F)),
    "select": ("waits on sockets and files", (_F,)),
    "selectors": ("waits on sockets and files", (_F,)),
    "http": (_NET, (_F,)),
    "httplib": (_NET, (_P, _M, _F)),
    "urllib": (_NET, (_P, _F)),
    "urllib2": (_NET, (_F,)),
    "urllib3": (_NET, (_W,)),
    "requests": (_NET, (_P, _M, _F)),
    "httpx": (_NET, (_W,)),
    "aiohttp": (_NET, (_P, _M, _F)),
    "ftplib": (_NET, (_F,)),
    "smtplib": (_NET, (_F,)),
    "imaplib": ("opens network connections; IMAP4_stream runs a shell command", (_P, _F)),
    "poplib": (_NET, (_F,)),
    "telnetlib": (_NET, (_F,)),
    "nntplib": (_NET, (_F,)),
    "socketserver": ("listens on network ports", (_F,)),
    "xmlrpc": (_NET, (_F,)),
    "asyncio": ("starts processes and connections", (_P, _M, _F)),
    # code and imports
    "builtins": ("", ()),  # judged name by name below
    "runpy": (_CODE, (_P, _M, _F)),
    "code": (_CODE, (_P, _F)),
    "codeop": ("compiles code", (_F,)),
    "importlib": (_IMPORT, (_F,)),
    "imp": (_IMPORT, (_F,)),
    "_imp": (_IMPORT, (_F,)),
    "_frozen_importlib": (_IMPORT, (_F,)),
    "_frozen_importlib_external": (_IMPORT, (_F,)),
    "pkgutil": (_IMPORT, (_P, _F)),
    "zipimport": (_IMPORT, (_F,)),
    "_interpreters": ("runs code in a subinterpreter", (_F,)),
    "_xxsubinterpreters": ("runs code in a subinterpreter", (_F,)),
    "types": ("builds functions and code objects", (_P, _F)),
    "marshal": ("loads code objects", (_F,)),
    "functools": ("calls any function it is given (partial, reduce)", (_P, _F)),
    "operator": (_ATTR, (_P, _M, _F)),
    "_operator": (_ATTR, (_P, _F)),
    "doctest": ("runs code from strings", (_P, _F)),
    "unittest": ("runs code", (_F,)),
    "test": ("runs code and starts processes (test.support.script_helper)", (_P, _F)),
    "idlelib": (_CODE, (_P, _F)),
    "lib2to3": (_CODE, (_P, _F)),
    "pdb": (_CODE, (_P, _M, _F)),
    "bdb": (_CODE, (_P, _M, _F)),
    "timeit": ("runs code from strings", (_P, _F)),
    "trace": (_CODE, (_P, _F)),
    "profile": ("runs code from strings", (_P, _F)),
    "cProfile": ("runs code from strings", (_P, _F)),
    "ctypes": (_NATIVE, (_P, _F)),
    "_ctypes": (_NATIVE, (_F,)),
    "cffi": (_NATIVE, (_W,)),
    "pip": ("installs packages, which runs their code", (_P, _F)),
    "ensurepip": ("installs packages, which runs their code", (_P, _F)),
    "venv": ("creates environments and installs packages", (_P, _F)),
    "pickle": (_NESTED, (_P, _M, _F)),
    "_pickle": (_NESTED, (_P, _M, _F)),
    "pickletools": (_NESTED, (_W,)),
    "copyreg": ("", ()),  # judged name by name below
    "dill": (_NESTED, (_F,)),
    "cloudpickle": (_CODE_OBJECTS, (_P, _F)),  # trusted: a name judged, never imported
    "joblib": (_NESTED, (_F,)),
    "pandas.io.pickle": (_NESTED, (_W,)),
    # libraries
    "torch.package": ("imports packaged code", (_W,)),
    "torch.hub": ("downloads and runs code", (_F,)),
    "torch.utils.cpp_extension": ("compiles and loads native code", (_W,)),
    "torch.utils.collect_env": ("runs shell commands (run)", (_P,)),
    "torch.utils.bottleneck": ("runs code under a profiler", (_P,)),
    "torch.utils._config_module": ("loads configuration that unpickles data", (_P, _F)),
    "torch.utils.data.datapipes.utils.decoder": (_NESTED, (_P,)),
    "torch.distributed.elastic.rendezvous": (_NET, (_F,)),
    "torch.fx": ("executes generated source code", (_P,)),
    "torch.jit": ("loads and runs TorchScript code", (_P, _F)),
    "torch._dynamo": ("compiles and runs code", (_P, _F)),
    "torch._inductor": ("compiles and runs code (codecache.compile_file runs a command)", (_P, _F)),
    "torch.compiler": ("compiles and runs code", (_F,)),
    "torch._ops": ("calls any registered operator", (_W,)),
    "torch.ops": ("calls any registered operator", (_W,)),
    "numpy.testing": ("runs code from strings (runstring)", (_P, _F)),
    "numpy.f2py": ("compiles and loads native code", (_P, _F)),
    "numpy.distutils": ("compiles and loads native code", (_F,)),
    "numpy.ctypeslib": ("loads native libraries", (_W,)),
    "numpy.lib.npyio": (_NESTED, (_W,)),
    "numpy.lib._npyio_impl": (_NESTED, (_W,)),
}
"""Modules (and their submodules) that can run code or reach outside the process,
with what they do and which lists flag them. An empty reason means the module is
judged name by name (``builtins``, ``copyreg``)."""

_DANGEROUS_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "builtins.eval": ("evaluates code from a string", (_P, _M, _F)),
    "builtins.exec": ("executes code from a string", (_P, _M, _F)),
    "builtins.execfile": ("executes code from a file", (_F,)),
    "builtins.compile": ("compiles code", (_P, _M, _F)),
    "builtins.__import__": (_IMPORT, (_M, _F)),
    "builtins.__loader__": (_IMPORT, (_F,)),
    "builtins.__spec__": (_IMPORT, (_F,)),
    "builtins.getattr": ("reaches any attribute, and through it any function", (_P, _M, _F)),
    "builtins.setattr": ("changes any attribute", (_F,)),
    "builtins.delattr": ("deletes any attribute", (_F,)),
    "builtins.hasattr": ("runs attribute lookups by name", (_F,)),
    "builtins.open": ("opens files", (_P, _M, _F)),
    "builtins.file": ("opens files", (_W,)),
    "builtins.input": ("reads the terminal", (_F,)),
    "builtins.raw_input": ("reads the terminal", (_W,)),
    "builtins.breakpoint": ("starts a debugger", (_P, _M, _F)),
    "builtins.help": ("starts the help pager, which runs a command", (_W,)),
    "builtins.copyright": ("starts a pager", (_W,)),
    "builtins.credits": ("starts a pager", (_W,)),
    "builtins.license": ("starts a pager", (_W,)),
    "builtins.exit": ("ends the process", (_W,)),
    "builtins.quit": ("ends the process", (_W,)),
    "builtins.globals": ("reaches the interpreter's globals", (_F,)),
    "builtins.locals": ("reaches the interpreter's locals", (_F,)),
    "builtins.vars": ("reaches any object's attributes", (_F,)),
    "builtins.apply": ("calls any function", (_P, _M, _F)),
    "builtins.__build_class__": ("builds classes from code", (_F,)),
    "builtins.type": ("builds classes", (_W,)),
    "builtins.memoryview": ("reaches raw memory", (_F,)),
    "builtins.reload": (_IMPORT, (_W,)),
    "copyreg.add_extension": ("changes the global registry pickles import through", (_W,)),
    "copyreg.pickle": ("changes how every object pickles", (_W,)),
    "copyreg.constructor": ("registers a callable", (_W,)),
    "torch.load": (_NESTED, (_F,)),
    "torch.compile": ("compiles and runs code", (_F,)),
    "torch.serialization.load": (_NESTED, (_P,)),
    "torch.serialization._load": (_NESTED, (_W,)),
    "torch.serialization._legacy_load": (_NESTED, (_W,)),
    "torch.storage._load_from_bytes": (_NESTED, (_F,)),
    "torch._C._load_for_lite_interpreter": ("loads and runs TorchScript code", (_W,)),
    "torch._C.import_ir_module": ("loads and runs TorchScript code", (_W,)),
    "numpy.load": (_NESTED, (_W,)),
    "numpy.fromfile": ("reads files", (_W,)),
    "numpy.save": ("writes files", (_W,)),
    "numpy.savez": ("writes files", (_W,)),
    "numpy.tofile": ("writes files", (_W,)),
    "numpy.loadtxt": ("reads files", (_W,)),
    "numpy.genfromtxt": ("reads files", (_W,)),
    "numpy.memmap": ("maps files into memory", (_W,)),
    "pandas.read_pickle": (_NESTED, (_W,)),
    "pandas.read_csv": ("reads files and URLs", (_W,)),
    "keras.models.load_model": ("loads models that run code", (_W,)),
    "tensorflow.keras.models.load_model": ("loads models that run code", (_W,)),
    "yaml.load": ("builds arbitrary objects from YAML", (_W,)),
    "yaml.unsafe_load": ("builds arbitrary objects from YAML", (_W,)),
}
"""Single names that can run code or reach outside the process."""

_BENIGN_BUILTINS = frozenset(
    {
        "object", "len", "abs", "sum", "min", "max", "round", "pow", "divmod", "sorted",
        "reversed", "enumerate", "zip", "iter", "next", "all", "any", "hash", "id", "repr",
        "ascii", "bin", "hex", "oct", "ord", "chr", "format", "isinstance", "issubclass",
        "callable", "NotImplemented", "Ellipsis", "None", "True", "False",
        "Exception", "ValueError", "KeyError", "TypeError", "RuntimeError", "IndexError",
        "AttributeError", "NotImplementedError", "StopIteration", "AssertionError",
    }
)  # fmt: skip
"""``builtins`` names that only build plain values (fickling's ``SAFE_BUILTINS``, pure ones)."""

_CODE_RUNNING_NAMES = frozenset(
    {
        "eval", "exec", "execfile", "system", "popen", "Popen", "spawn", "spawnl", "spawnv",
        "execv", "execve", "execl", "fork", "forkpty", "getoutput", "getstatusoutput",
        "check_output", "check_call", "run_path", "run_module", "load", "loads", "__import__",
        "import_module", "compile", "runcode", "runsource", "runctx", "runstring",
        "pipepager", "tempfilepager", "pipe_pager", "tempfile_pager", "_get_command_stdout",
        "script_helper", "assert_python_ok", "assert_python_failure", "spawn_python",
        "run_python_until_end", "make_script", "load_source", "load_module", "load_dynamic",
        "debug_script", "_run_code", "_run_module_code", "_run_module_as_main", "run_cprofile",
        "run_autograd_prof", "compile_file", "execWrapper", "evaluate_guards_expression",
        "resolve_name", "locate", "unsafe_load", "full_load", "load_library", "LoadLibrary",
        "CDLL", "PyDLL", "WinDLL", "dlopen", "urlopen", "urlretrieve", "create_connection",
        "FileHandler", "WatchedFileHandler", "RotatingFileHandler", "SocketHandler",
        "SMTPHandler", "HTTPHandler", "_run_pip", "getlincoef", "_eval_length",
    }
)  # fmt: skip
"""Names that run code, start processes or open files whatever module they come from
(a renamed ``os``, a wrapper, a private helper): every name the peers' lists flag
one by one, plus the usual process and loader names."""


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


def _module_rule(module: str) -> tuple[str, tuple[str, ...]] | None:
    """The row of :data:`_DANGEROUS_MODULES` covering ``module`` (itself or a parent)."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        row = _DANGEROUS_MODULES.get(".".join(parts[:i]))
        if row is not None:
            return row if row[0] else None
    return None


def _known_benign(module: str, name: str) -> bool:
    full = f"{module}.{name}"
    return (
        full in _BENIGN
        or (module == "builtins" and name in _BENIGN_BUILTINS)
        or any(_within(module, root) for root in _BENIGN_MODULES)
    )


def danger(module: str, name: str) -> str | None:
    """Why importing ``module.name`` is dangerous, or ``None`` when it is not.

    Dotted names (``name="a.b"``, protocol 4) walk attributes after the import,
    so they can reach any object the module holds; they count as dangerous
    unless the full path is known safe or benign.
    """
    module, name = normalize(module, name)
    full = f"{module}.{name}"
    if full in _SAFE or full in _BENIGN:
        return None
    row = _DANGEROUS_NAMES.get(full) or _module_rule(module)
    if row is not None:
        return row[0]
    if "__" in name.strip("_") or name.startswith("__"):
        return "reaches interpreter internals through a dunder name"
    if "." in name:
        return "walks attributes of a module, which can reach any function"
    if name in _CODE_RUNNING_NAMES:
        return "has the name of a function that runs code"
    if not module or not name:
        return "names no importable object"
    return None


def sources(module: str, name: str) -> tuple[str, ...]:
    """Which lists flag ``module.name`` (:data:`PICKLESCAN`, :data:`FICKLING` ...), if any."""
    module, name = normalize(module, name)
    row = _DANGEROUS_NAMES.get(f"{module}.{name}") or _module_rule(module)
    return row[1] if row is not None else ()


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
    if full in _BENIGN:
        return "benign"
    if danger(module, name) is not None:
        return "dangerous"
    if _known_benign(module, name):
        return "benign"
    return "unknown"


def describe(module: str, name: str) -> str:
    """What is known of ``module.name``: why it is dangerous, or what importing it would run.

    Example:
        >>> describe("__main__", "Net")
        'defined in the script that saved the file: loading needs that script, and runs it'

    """
    module, name = normalize(module, name)
    why = danger(module, name)
    if why is not None:
        flagged = sources(module, name)
        return why + (f" (flagged by {', '.join(flagged)})" if flagged else "")
    judged = verdict(module, name)
    if judged == "safe":
        return "allowed by torch.load(weights_only=True)"  # trusted: a verdict's words, no load
    if judged == "benign":
        return "a data holder or layer class: importing it runs only its library's own code"
    if module == "__main__":
        return "defined in the script that saved the file: loading needs that script, and runs it"
    root = module.split(".")[0]
    if module == "builtins":
        return "a Python builtin weightfit has no verdict for"
    return (
        f"not in weightfit's table: importing it runs package {root!r}, and calling it runs "
        "whatever that code does"
    )


def accepted(ref: OpaqueGlobal, allowed: Collection[str] = ()) -> bool:
    """Whether a CI can pass ``ref``: judged ``safe`` or ``benign``, or allowed by name.

    ``allowed`` holds ``module.name`` strings (``--allow-global``); a ``dangerous``
    name is never accepted, allowed or not.
    """
    if ref.verdict in ("safe", "benign"):
        return True
    return ref.verdict == "unknown" and f"{ref.module}.{ref.name}" in allowed


def by_concern(refs: Iterable[OpaqueGlobal], allowed: Collection[str] = ()) -> list[OpaqueGlobal]:
    """``refs`` with those not accepted first (worst verdict first), then the rest, stably."""
    return sorted(refs, key=lambda ref: (accepted(ref, allowed), -RANK[ref.verdict]))


def worst(*verdicts: SecurityVerdict | None) -> SecurityVerdict | None:
    """Return the worst of several verdicts (``None`` entries are ignored)."""
    known = [v for v in verdicts if v is not None]
    if not known:
        return None
    return max(known, key=RANK.__getitem__)

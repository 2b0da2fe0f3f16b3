"""Every error weightfit raises, named by what happened.

Each class carries structured fields, builds its own one-line message from
them, and declares the exit code the command line uses for it. Foreign
exceptions from parsing (``struct.error``, ``zipfile.BadZipFile``,
``json.JSONDecodeError`` ...) never escape a reader: :func:`reading` turns them
into one of these, with the path added and the cause chained.

The tree::

    WeightfitError                      exit 4 unless a subclass says otherwise
    ├── UsageError                      exit 2: the call itself is wrong
    │   ├── MissingDependency           (ImportError) an optional framework is not installed
    │   ├── NoLoadingErrorFound         (ValueError) `explain` found no loading error in the text
    │   └── InvalidPlan                 (ValueError) a plan file that cannot be applied as written
    │       ├── CastOverflow            a down-cast meets values the new dtype cannot hold
    │       └── SourceMismatch          ``apply`` got another checkpoint than the plan was made from
    ├── InputError                      exit 3: a file or target cannot be read
    │   ├── InputNotFound               (FileNotFoundError) any input named on the command line
    │   │   ├── CheckpointNotFound      a checkpoint, model folder or adapter
    │   │   ├── TargetNotFound          ``--against``: neither a path nor a factory
    │   │   ├── ConfigNotFound          ``--config``
    │   │   ├── PlanNotFound            the plan file of ``apply``
    │   │   └── LogNotFound             the log file of ``explain``
    │   ├── FetchFailed                 an HTTP request for a remote checkpoint failed
    │   │   ├── AccessDenied            (PermissionError) a gated or private Hub repo, no access
    │   │   ├── RateLimited             the server kept answering 429 after bounded retries
    │   │   └── RangeNotSupported       the server ignores Range; reading would download the file
    │   ├── NotACheckpoint              (ValueError) no known format matches the bytes
    │   ├── TruncatedFile               the file ends before its own header says it should
    │   ├── HeaderTooLarge              a declared header or count exceeds its limit
    │   ├── InvalidHeader               (ValueError) the header is not what the spec allows
    │   ├── UnsupportedArchive          a zip feature weightfit does not read (encryption, method)
    │   ├── TensorSizeMismatch          shape × itemsize differs from the stored byte count
    │   ├── TensorOutOfBounds           a tensor's bytes lie outside the data section
    │   ├── OverlappingTensors          two tensors claim the same bytes
    │   ├── UncoveredBytes              bytes in the data section that no tensor owns
    │   ├── InconsistentShardIndex      a shard index disagrees with its shards
    │   ├── MalformedPickle             the pickle stream is not valid
    │   ├── ForbiddenPickleContent      the pickle would import or call something unsafe
    │   ├── ContainerKeyNotFound        (KeyError) ``--key`` names no entry in the file
    │   ├── VariantNotFound             a folder has no weight set for the variant asked
    │   ├── TargetUnavailable           a target (factory, config, module) cannot be built
    │   ├── UnsupportedTensor           a tensor's dtype cannot be computed on or written
    │   ├── UnsupportedAdapter          an adapter type weightfit cannot merge (DoRA, not LoRA)
    │   └── CheckpointMismatch          a strict load found tensors that do not fit the model
    └── OutputError                     exit 3: the output cannot be written or verified
        ├── DestinationNotWritable      (PermissionError)
        ├── DestinationExists           (FileExistsError)
        ├── DiskFull                    the disk filled up, or would: the output needs more room
        ├── TensorTooLarge              a tensor the plan computes needs more memory than there is
        └── VerificationFailed          the written checkpoint does not match its target
"""

from __future__ import annotations

import json
import lzma
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERNAL = 4


class WeightfitError(Exception):
    """Root of every error weightfit raises on purpose."""

    exit_code: int = EXIT_INTERNAL

    def __init__(
        self,
        detail: str,
        *,
        path: str | Path | None = None,
        offset: int | None = None,
    ) -> None:
        self.detail = detail
        self.path = str(path) if path is not None else None
        self.offset = offset
        super().__init__(self.message)

    @property
    def what(self) -> str:
        """A few words naming the kind of problem, from the class name."""
        name = type(self).__name__
        words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
        return words

    @property
    def message(self) -> str:
        """The one line the CLI prints: file, kind of problem, detail."""
        where = f"{self.path}: " if self.path else ""
        at = f" (at byte {self.offset})" if self.offset is not None else ""
        # Details quoting a foreign exception may span lines; the CLI prints one.
        detail = " ".join(line.strip() for line in self.detail.splitlines())
        return f"{where}{self.what}: {detail}{at}"

    def __str__(self) -> str:
        return self.message


class UsageError(WeightfitError):
    """The call itself is wrong: bad arguments, missing extras."""

    exit_code = EXIT_USAGE


class MissingDependency(UsageError, ImportError):
    """An optional framework is needed but not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs {package}; install it with: pip install 'weightfit[{extra}]'"
        )


class NoLoadingErrorFound(UsageError, ValueError):
    """The text given to ``explain`` holds no checkpoint loading error."""


class InvalidPlan(UsageError, ValueError):
    """A plan file that cannot be applied as written."""


class CastOverflow(InvalidPlan):
    """A down-cast meets finite values beyond the largest the new dtype holds."""


class SourceMismatch(InvalidPlan):
    """The checkpoint given to ``apply`` is not the one the plan was made from."""


class InputError(WeightfitError):
    """A file, folder or target cannot be read."""

    exit_code = EXIT_INPUT


class InputNotFound(InputError, FileNotFoundError):
    """An input does not exist; the subclass names what it was meant to be."""


class CheckpointNotFound(InputNotFound):
    """The checkpoint file, model folder or adapter does not exist."""


class TargetNotFound(InputNotFound):
    """The target is neither an existing path nor a ``pkg.module:Callable`` factory."""


class ConfigNotFound(InputNotFound):
    """The config file given for a factory target does not exist."""


class PlanNotFound(InputNotFound):
    """The plan file to apply does not exist."""


class LogNotFound(InputNotFound):
    """The log file given to ``explain`` does not exist."""


class FetchFailed(InputError):
    """An HTTP request for a remote checkpoint failed (status, network, timeout)."""


class AccessDenied(FetchFailed, PermissionError):
    """A Hub repo is gated or private, and the token (if any) cannot read it."""


class RateLimited(FetchFailed):
    """The server answered 429 Too Many Requests after every bounded retry."""


class RangeNotSupported(FetchFailed):
    """The server ignores ``Range``; only ``--allow-full-download`` lets weightfit read on."""


class NotACheckpoint(InputError, ValueError):
    """No known checkpoint format matches the file's bytes."""


class TruncatedFile(InputError):
    """The file ends before its own header says it should."""


class HeaderTooLarge(InputError):
    """A declared header length or count exceeds its limit or the file."""


class InvalidHeader(InputError, ValueError):
    """The header is not what the format's spec allows."""


class UnsupportedArchive(InputError):
    """A zip archive uses a feature weightfit does not read: encryption, a compression method."""


class TensorSizeMismatch(InputError):
    """A tensor's shape and dtype disagree with the bytes stored for it."""


class TensorOutOfBounds(InputError):
    """A tensor's byte range lies outside the file's data section."""


class OverlappingTensors(InputError):
    """Two tensors claim the same bytes."""


class UncoveredBytes(InputError):
    """Bytes in the data section belong to no tensor."""


class InconsistentShardIndex(InputError):
    """A shard index names files or tensors that are not where it says."""


class MalformedPickle(InputError):
    """The pickle stream is not a valid pickle."""


class ForbiddenPickleContent(InputError):
    """The pickle would import or call something that is not a known tensor rebuild."""


class ContainerKeyNotFound(InputError, KeyError):
    """The entry asked for with ``--key`` is not in the file."""

    def __str__(self) -> str:
        return self.message


class VariantNotFound(InputError):
    """A folder has no weight set for the variant asked for."""


class TargetUnavailable(InputError):
    """A target model, factory or config cannot be built."""


class UnsupportedTensor(InputError):
    """A tensor's dtype cannot be computed on or written as the plan asks."""


class UnsupportedAdapter(InputError):
    """An adapter weightfit cannot merge exactly: DoRA, a PEFT type other than LoRA, a lone bias."""


class CheckpointMismatch(InputError):
    """A strict load found tensors that do not fit the model (the detail names them)."""


class OutputError(WeightfitError):
    """The output cannot be written or does not verify."""

    exit_code = EXIT_INPUT


class DestinationNotWritable(OutputError, PermissionError):
    """The output folder or its parent cannot be written."""


class DestinationExists(OutputError, FileExistsError):
    """The output path exists and overwriting was not asked for."""


class DiskFull(OutputError):
    """The disk filled up while writing, or has less room than the output; nothing is left."""


class TensorTooLarge(OutputError):
    """A tensor the plan computes needs more memory than the machine has; nothing is written."""


class VerificationFailed(OutputError):
    """The written checkpoint does not match the target it was made for."""


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Translate foreign parsing exceptions into weightfit errors naming ``path``.

    Our own errors pass through, with the path filled in where a helper left it
    out. The original exception is chained as ``__cause__``.
    """
    try:
        yield
    except WeightfitError as error:
        if error.path is None:
            error.path = str(path)
            error.args = (error.message,)
        raise
    except FileNotFoundError as error:
        raise CheckpointNotFound("no such file or folder", path=path) from error
    except IsADirectoryError as error:
        raise NotACheckpoint("is a folder where a file was expected", path=path) from error
    except (struct.error, EOFError) as error:
        raise TruncatedFile(f"ended early ({error})", path=path) from error
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError) as error:
        # zlib and lzma raise their own errors for a damaged compressed member.
        raise NotACheckpoint(f"damaged zip archive ({error})", path=path) from error
    except json.JSONDecodeError as error:
        raise InvalidHeader(f"invalid JSON ({error.msg} at char {error.pos})", path=path) from error
    except UnicodeDecodeError as error:
        raise InvalidHeader(f"invalid UTF-8 ({error.reason})", path=path) from error
    except (OverflowError, MemoryError, RecursionError) as error:
        raise InvalidHeader(
            f"declares impossible sizes ({type(error).__name__})", path=path
        ) from error

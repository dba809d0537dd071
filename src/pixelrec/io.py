"""File I/O shared by every stage: atomic writes and CSV/Parquet tables."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES

from pixelrec.errors import DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces `path` as a whole.

    Readers never see a folder mixing old and new files, and a failure leaves `path` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "previous")
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_table(path: str | os.PathLike, *, str_columns: tuple[str, ...] = (), what: str = "table",
               config_key: str | None = None, made_by: str | None = None,
               encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file; `str_columns` keep their text form (ids with leading zeros).

    `str_columns` are never read as missing: `NA`, `null`, `None`, `nan` are ids; only an empty
    cell is empty. `encoding` is `data.encoding` for raw inputs (None: UTF-8, files PixelRec
    wrote). A missing or unreadable file raises DataError naming the file and the config key to
    change (and `made_by`, the command that writes the file, when it is a pipeline output).
    """
    path = Path(path)
    hint = f" Set `{config_key}` to the right path" if config_key else ""
    if made_by:
        hint += f"{' or' if hint else ''} run `{made_by}` first"
    hint += "." if hint else ""
    if not path.exists():
        raise DataError(f"{what} file not found: {path}.{hint}")
    if path.is_dir():
        df = read_parquet_folder(path, what, hint)
        for col in str_columns:
            if col in df.columns:
                df[col] = df[col].astype(str).where(df[col].notna())
        return df
    suffix = path.suffix.lower()
    sep = "\t" if suffix == ".tsv" else ","
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            for col in str_columns:
                if col in df.columns:
                    df[col] = df[col].astype(str).where(df[col].notna())
            return df
        if suffix in (".csv", ".tsv"):
            return _read_csv(path, sep, str_columns, encoding or "utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(_decode_error(path, sep, what, encoding, exc)) from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"could not read {what} file {path}: {exc}.{hint}") from exc
    raise DataError(
        f"{what} file {path} has an unsupported extension '{suffix}'; use one of "
        f"{', '.join(TABLE_SUFFIXES)}.{hint}"
    )


def parquet_parts(folder: Path) -> list[Path]:
    """The data files of a Parquet folder as Spark, Hive or a warehouse export writes it:
    `*.parquet` / `*.pq` / extension-less part files, in `key=value/` partition folders or not;
    names starting with `_` or `.` (`_SUCCESS`, `.crc` checksums) are not data."""
    parts = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if not path.is_file() or any(p.startswith(("_", ".")) for p in rel):
            continue
        if path.suffix.lower() in (".parquet", ".pq", ""):
            parts.append(path)
    return parts


def read_parquet_folder(folder: Path, what: str = "table", hint: str = "") -> pd.DataFrame:
    """Every part file of a Parquet folder as one frame (hive partition folders `key=value`
    become string columns). Each part is read on its own first, so a corrupt or incompatible
    one is named, and nothing is returned (or written by the caller) unless all of them read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = parquet_parts(folder)
    if not parts:
        raise DataError(f"{what} folder {folder} holds no Parquet files (*.parquet, *.pq or "
                        f"extension-less part files; names starting with _ or . are skipped)."
                        f"{hint}")
    tables = []
    for k, part in enumerate(parts):
        try:
            table = pq.read_table(part)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"{what} folder {folder}: part file {part.relative_to(folder)} (file "
                            f"{k + 1} of {len(parts)}) is not a readable Parquet file ({exc}). "
                            f"Nothing was written; re-export or remove that file.") from exc
        for key_value in part.relative_to(folder).parts[:-1]:
            key, sep, value = key_value.partition("=")
            if sep and key not in table.column_names:
                table = table.append_column(key, pa.array([value] * len(table), pa.string()))
        tables.append(table)
    try:
        whole = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise DataError(f"{what} folder {folder}: its part files have incompatible schemas "
                        f"({exc}); every part needs the same columns and types.{hint}") from exc
    return whole.to_pandas()


def _read_csv(path: Path, sep: str, str_columns: tuple[str, ...], encoding: str) -> pd.DataFrame:
    """`str_columns` as text, missing only when empty; the other columns with pandas' NA values."""
    header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding).columns
    text = [c for c in str_columns if c in header]
    na_values = {c: [""] if c in text else list(STR_NA_VALUES) for c in header}
    return pd.read_csv(path, sep=sep, encoding=encoding, dtype=dict.fromkeys(text, str),
                       keep_default_na=False, na_values=na_values)


def _decode_error(path: Path, sep: str, what: str, encoding: str | None,
                  exc: UnicodeDecodeError) -> str:
    """Name the row and column holding the first byte that `encoding` cannot decode."""
    name = encoding or "utf-8"
    fix = (f"Set `data.encoding` to the file's encoding (e.g. cp1252 or latin-1) or save it as "
           f"{name}." if encoding else f"Save it as {name}.")
    text = path.read_bytes().decode(name, errors="surrogateescape")  # bad bytes -> U+DC80..FF
    header: list[str] = []
    for row_number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=sep)):
        header = row if row_number == 0 else header
        for col_number, field in enumerate(row):
            bad = [ch for ch in field if "\udc80" <= ch <= "\udcff"]
            if bad:
                column = (repr(header[col_number]) if row_number and col_number < len(header)
                          else f"{col_number + 1}")
                where = (f"data row {row_number} (1-based, header excluded)" if row_number
                         else "the header row")
                return (f"{what} file {path}: {where}, column {column} is not valid {name} "
                        f"text (byte 0x{ord(bad[0]) - 0xDC00:02x}). {fix}")
    return f"{what} file {path} is not valid {name} text: {exc}. {fix}"


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table atomically; the format follows the extension (.parquet or .csv)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)

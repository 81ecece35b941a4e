"""TLS for the loopback sandbox: a certificate authority made on the spot, and a CA file clients trust.

Upbit is reached only over TLS, so the costs users meet (a TCP and a TLS handshake per connection,
HTTP/2 over ALPN) only show against a server that speaks it. ``SandboxTLS`` makes a throwaway CA and
a server certificate for ``127.0.0.1`` and ``localhost`` with ``trustme`` (the ``[tls]`` extra), in
memory, and writes the CA's certificate (public, no key) to a file a client can trust::

    tls = SandboxTLS()                       # or SandboxTLS(ca_file="ca.pem")
    connect(url, httpx_args={"verify": tls.ca_file})   # or SSL_CERT_FILE=tls.ca_file

Nothing is trusted system-wide and no private key is written to disk unless a server needs a file
(``hypercorn`` reads its key from a path: ``key_files()``, in a private temporary folder removed by
``close()``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["TLS_HOSTS", "SandboxTLS"]

TLS_HOSTS = ("127.0.0.1", "localhost")
"""The names the sandbox's server certificate is valid for (the server binds 127.0.0.1 only)."""


def _trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise RuntimeError(
            "the sandbox serves TLS with trustme: pip install 'upbit-order-cancel-sandbox[tls]'"
        ) from None
    return trustme


class SandboxTLS:
    """A CA and a server certificate for the sandbox, made when created; ``ca_file`` holds the CA to trust.

    ``ca_file``: where to write the CA certificate (default: a fresh temporary file, removed by ``close()``;
    a path given by the caller is left in place for the client that reads it).
    """

    def __init__(self, ca_file: str | os.PathLike[str] | None = None) -> None:
        trustme = _trustme()
        self._ca = trustme.CA()
        self._cert = self._ca.issue_cert(*TLS_HOSTS)
        self._folder = Path(tempfile.mkdtemp(prefix="upbit-sandbox-tls-"))
        self._own_ca_file = ca_file is None
        self.ca_file: Path = Path(ca_file) if ca_file is not None else self._folder / "sandbox-ca.pem"
        """The CA certificate (PEM) a client passes as ``verify`` or ``SSL_CERT_FILE``."""
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self, alpn: tuple[str, ...] = ("http/1.1",)) -> ssl.SSLContext:
        """A server-side context with the sandbox's certificate, offering ``alpn`` in that order."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        context.set_alpn_protocols(list(alpn))
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts the sandbox's CA (and nothing else)."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def key_files(self) -> tuple[str, str]:
        """(certificate chain, private key) as PEM files in the private folder, for servers that read paths."""
        chain, key = self._folder / "server-chain.pem", self._folder / "server-key.pem"
        if not key.exists():
            self._folder.chmod(0o700)
            self._cert.private_key_pem.write_to_path(str(key))
            with chain.open("wb") as out:
                for blob in self._cert.cert_chain_pems:
                    out.write(blob.bytes())
        return str(chain), str(key)

    def close(self) -> None:
        """Remove the temporary folder (the key files, and the CA file unless the caller named it)."""
        if not self._own_ca_file:
            with contextlib.suppress(OSError):
                (self._folder / "sandbox-ca.pem").unlink()
        shutil.rmtree(self._folder, ignore_errors=True)

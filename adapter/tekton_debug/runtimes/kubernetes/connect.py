"""Connecting to a cluster the way kubectl does, and turning what the API server says into errors a
user can act on.

Where the configuration comes from, in kubectl's order: the ``kubeconfig`` option, else
``$KUBECONFIG`` (a ``:``-separated list, merged), else ``~/.kube/config``; and when none of those
exists but the process runs in a pod, the pod's service account (in-cluster config). ``context``
picks a context (default: the current one); the namespace is the ``namespace`` option, else the
context's namespace, else ``default``.

Every request goes through :func:`call`: a few bounded retries with backoff for the failures that
may pass (connection refused or reset, 429, 5xx), then a :class:`UserError` that names the server,
the context and the file, and says what to try.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_HOST_ENV_NAME, load_incluster_config
from kubernetes.config.kube_config import list_kube_config_contexts, load_kube_config

from tekton_debug.errors import RuntimeUnavailable, UserError
from tekton_debug.options import LaunchOptions

T = TypeVar("T")

RETRIES = 4  # attempts after the first one
BACKOFF = 0.25  # seconds before the first retry; doubles each time
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
RETRYABLE_STATUS = {0, 429, 500, 502, 503, 504}


@dataclass
class Cluster:
    """One connection: the API clients and where they point."""

    api: client.ApiClient
    namespace: str
    server: str
    context: str | None  # the context used (None for the in-cluster config)
    kubeconfig: str | None  # the file(s) read (None for the in-cluster config)
    explicit_context: str | None = None  # as the user gave them (for kubectl command lines)
    explicit_kubeconfig: str | None = None

    @property
    def where(self) -> str:
        """"the API server at URL (context C in FILE)", for messages."""
        if self.kubeconfig is None:
            return f"the API server at {self.server} (in-cluster service account)"
        return f"the API server at {self.server} (context {self.context!r} in {self.kubeconfig})"

    def new_api(self) -> client.ApiClient:
        """A separate ApiClient on the same configuration.

        ``kubernetes.stream.stream`` swaps ``call_api`` on the client it is given while an exec is
        being set up; an exec therefore gets its own client so that watches and log streams running
        on other threads never see the swap."""
        return client.ApiClient(configuration=self.api.configuration)

    def kubectl_flags(self) -> list[str]:
        flags = []
        if self.explicit_kubeconfig:
            flags += ["--kubeconfig", self.explicit_kubeconfig]
        if self.explicit_context:
            flags += ["--context", self.explicit_context]
        return flags


def kubeconfig_path(options: LaunchOptions) -> str:
    if options.kubeconfig:
        return os.path.expanduser(options.kubeconfig)
    env = os.environ.get("KUBECONFIG")
    if env:
        return env
    return os.path.expanduser("~/.kube/config")


def connect(options: LaunchOptions) -> Cluster:
    """Load the configuration (no request is made yet). Raises UserError with what to fix."""
    path = kubeconfig_path(options)
    files = [p for p in path.split(os.pathsep) if p]
    existing = [p for p in files if os.path.exists(p)]
    configuration = client.Configuration()
    if not existing:
        if not options.kubeconfig and os.environ.get(SERVICE_HOST_ENV_NAME):
            return _in_cluster(options, configuration)
        source = "the kubeconfig option" if options.kubeconfig else (
            "$KUBECONFIG" if os.environ.get("KUBECONFIG") else "the default location")
        raise RuntimeUnavailable(
            f"no kubeconfig file: {path} (from {source}) does not exist",
            fix='point "kubeconfig" (or $KUBECONFIG) at the file kubectl uses, or run '
                '"kubectl config view" to check your setup; the "local" runtime needs no cluster')
    joined = os.pathsep.join(existing)
    try:
        contexts, current = list_kube_config_contexts(joined)
    except (ConfigException, OSError, ValueError, TypeError, AttributeError) as e:
        raise RuntimeUnavailable(f"cannot read the kubeconfig {joined}: {_config_reason(e)}",
                                 file=existing[0],
                                 fix='check the file with "kubectl config view"') from None
    names = [c.get("name") for c in contexts or [] if isinstance(c, dict)]
    chosen = options.context or (current or {}).get("name")
    if not chosen:
        raise RuntimeUnavailable(
            f"the kubeconfig {joined} has no current context",
            file=existing[0],
            fix=f'set "context" to one of: {", ".join(names) or "(none defined)"}, or run '
                '"kubectl config use-context NAME"')
    if chosen not in names:
        raise RuntimeUnavailable(
            f"context {chosen!r} is not in the kubeconfig {joined}",
            file=existing[0],
            fix=f'use one of: {", ".join(n for n in names if n) or "(none defined)"}')
    try:
        load_kube_config(config_file=joined, context=chosen, client_configuration=configuration,
                         persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError, AttributeError) as e:
        raise RuntimeUnavailable(
            f"cannot use context {chosen!r} of the kubeconfig {joined}: {_config_reason(e)}",
            file=existing[0], fix='check the context with "kubectl config view --minify '
                                  f'--context {chosen}"') from None
    context_obj = next((c for c in contexts if c.get("name") == chosen), {})
    namespace = options.namespace or (context_obj.get("context") or {}).get("namespace") \
        or "default"
    _tune(configuration)
    return Cluster(api=client.ApiClient(configuration=configuration), namespace=namespace,
                   server=configuration.host, context=chosen, kubeconfig=joined,
                   explicit_context=options.context, explicit_kubeconfig=options.kubeconfig)


def _in_cluster(options: LaunchOptions, configuration: client.Configuration) -> Cluster:
    try:
        load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError) as e:
        raise RuntimeUnavailable(
            f"no kubeconfig file and the in-cluster configuration is unusable: {e}",
            fix='set "kubeconfig" (or $KUBECONFIG) to a kubeconfig file') from None
    namespace = options.namespace
    if not namespace:
        try:
            with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as f:
                namespace = f.read().strip()
        except OSError:
            namespace = ""
    _tune(configuration)
    return Cluster(api=client.ApiClient(configuration=configuration),
                   namespace=namespace or "default", server=configuration.host, context=None,
                   kubeconfig=None)


def _tune(configuration: client.Configuration) -> None:
    # urllib3 would otherwise retry connection errors at once, three times, before we see them;
    # :func:`call` retries with a backoff instead.
    configuration.retries = False


def _config_reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.replace("Invalid kube-config file. ", "")


# ---- requests ----------------------------------------------------------------------------------

def is_connection_error(e: BaseException) -> bool:
    """A failure to reach the server (as opposed to an answer from it)."""
    import urllib3.exceptions

    if isinstance(e, ApiException):
        return e.status in (0, None)
    return isinstance(e, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError))


def retryable(e: BaseException) -> bool:
    if isinstance(e, ApiException):
        return (e.status or 0) in RETRYABLE_STATUS
    return is_connection_error(e)


def call(cluster: Cluster, what: str, fn: Callable[[], T], *,
         retries: int = RETRIES, sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, retried a bounded number of times on failures that may pass.

    ``what`` says what was being done ("create the TaskRun") for the error message. Answers that
    will not change by retrying (403, 404, 409, 422...) are raised at once as ApiException: callers
    that expect them catch them; :func:`user_error` words them for the user."""
    delay = BACKOFF
    for attempt in range(retries + 1):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - sorted below
            if not retryable(e) or attempt == retries:
                if is_connection_error(e):
                    raise unreachable(cluster, what, e) from None
                raise
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def unreachable(cluster: Cluster, what: str, e: BaseException) -> RuntimeUnavailable:
    reason = _short_reason(e)
    ctx = f" --context {cluster.context}" if cluster.context else ""
    return RuntimeUnavailable(
        f"cannot {what}: {cluster.where} cannot be reached ({reason})",
        fix=f'check that the cluster is running and that "kubectl{ctx} version" works; '
            'use "context"/"kubeconfig" to pick another cluster')


def _short_reason(e: BaseException) -> str:
    if isinstance(e, ApiException):
        return str(e.reason or "no answer").strip()
    text = str(e)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "Connection reset", "Remote end closed connection"):
        if marker in text:
            return marker.lower() if marker != "Connection refused" else "connection refused"
    return (text.splitlines() or [type(e).__name__])[0][:200]


def status_of(e: ApiException) -> dict:
    """The Kubernetes ``Status`` object an ApiException carries (empty when there is none)."""
    body = e.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body or "")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def server_message(e: ApiException) -> str:
    status = status_of(e)
    return str(status.get("message") or e.reason or f"HTTP {e.status}").strip()


def user_error(cluster: Cluster, what: str, e: ApiException, *, fix: str | None = None) -> UserError:
    """An API server's refusal, worded for the user: what we tried, what the server said."""
    message = server_message(e)
    code = e.status
    if code == 401:
        return RuntimeUnavailable(
            f"cannot {what}: {cluster.where} does not accept your credentials ({message})",
            fix=fix or 'log in again (your token may have expired); check with "kubectl auth '
                       'whoami"')
    if code == 403:
        return RuntimeUnavailable(
            f"cannot {what}: the cluster refused it: {message}",
            fix=fix or "ask a cluster admin for the permission (a Role bound to you in namespace "
                       f"{cluster.namespace!r})")
    if code == 404:
        return UserError(f"cannot {what}: not found: {message}", fix=fix)
    return UserError(f"cannot {what}: the cluster answered {code}: {message}", fix=fix)

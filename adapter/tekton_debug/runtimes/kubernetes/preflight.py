"""Checks before a TaskRun is created or attached to: is Tekton there, which release, is the debug
field allowed (``enable-api-fields: alpha``), and may this user do what debugging needs.

Everything wrong is reported at once, in one UserError, each problem with its fix: the
``kubectl patch`` command for the feature gate, the Role rule for a missing permission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.errors import Problem, RuntimeUnavailable
from tekton_debug.runtimes.kubernetes.connect import Cluster, call, server_message

TEKTON_NAMESPACE = "tekton-pipelines"
ALPHA_PATCH = ("kubectl patch configmap feature-flags -n tekton-pipelines -p "
               "'{\"data\":{\"enable-api-fields\":\"alpha\"}}'")

# (group, resource, subresource, verb): what launching and following a TaskRun needs.
LAUNCH_PERMISSIONS = [
    ("tekton.dev", "taskruns", "", "create"),
    ("tekton.dev", "taskruns", "", "get"),
    ("tekton.dev", "taskruns", "", "watch"),
    ("tekton.dev", "taskruns", "", "patch"),
    ("", "pods", "", "get"),
    ("", "pods", "", "watch"),
    ("", "pods", "log", "get"),
    ("", "pods", "exec", "create"),
]
ATTACH_PERMISSIONS = [p for p in LAUNCH_PERMISSIONS if p[3] != "create" or p[2] == "exec"]
# Optional: the values of the Secrets a TaskRun uses are read to be masked in its output.
READ_SECRETS = ("", "secrets", "", "get")


@dataclass
class TektonInfo:
    version: tuple[int, int, int] | None  # None: pipelines-info could not be read
    version_text: str
    api_fields: str | None  # None: feature-flags could not be read
    notices: list[str] = field(default_factory=list)
    secrets_readable: bool = True  # may get secrets: their values can be masked

    @property
    def breakpoints_field(self) -> bool:
        """v0.53 and later take ``breakpoints: {onFailure: enabled}``; before, ``breakpoint: [..]``.
        An unknown version is taken as a current one."""
        return self.version is None or self.version >= (0, 53, 0)

    @property
    def before_steps(self) -> bool:
        return self.version is None or self.version >= (0, 63, 0)


def parse_version(text: str) -> tuple[int, int, int] | None:
    m = re.match(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def check(cluster: Cluster, *, attach: bool = False, need_debug: bool = True) -> TektonInfo:
    """Run every check; raise one RuntimeUnavailable listing all problems, or return what was
    learned about the Tekton installation."""
    problems: list[Problem] = []
    info = TektonInfo(None, "", None)
    if not _tekton_installed(cluster, problems):
        raise RuntimeUnavailable("", problems=problems)
    core = client.CoreV1Api(cluster.api)
    info_cm = _configmap(cluster, core, "pipelines-info")
    if isinstance(info_cm, dict):
        info.version_text = str((info_cm.get("data") or {}).get("version") or "")
        info.version = parse_version(info.version_text)
    if info.version is None:
        info.notices.append(
            "could not read Tekton's version (ConfigMap pipelines-info in tekton-pipelines"
            + (f": {info_cm}" if isinstance(info_cm, str) else "") +
            "); assuming a current release (debug.breakpoints with beforeSteps)")
    flags = _configmap(cluster, core, "feature-flags")
    if isinstance(flags, dict):
        info.api_fields = str((flags.get("data") or {}).get("enable-api-fields") or "beta")
        if info.api_fields != "alpha" and need_debug:
            problems.append(Problem(
                f'Tekton\'s feature gate "enable-api-fields" is "{info.api_fields}": TaskRun '
                'debugging (spec.debug) needs "alpha"',
                fix=f"run: {ALPHA_PATCH}"))
    else:
        info.notices.append(f"could not read Tekton's feature flags ({flags}); if creating the "
                            f'TaskRun fails, "enable-api-fields" must be "alpha": {ALPHA_PATCH}')
    wanted = ATTACH_PERMISSIONS if attach else LAUNCH_PERMISSIONS
    missing = missing_permissions(cluster, wanted + [READ_SECRETS])
    # reading Secrets is not needed to debug, only to mask their values
    info.secrets_readable = READ_SECRETS not in missing
    missing = [p for p in missing if p != READ_SECRETS]
    if missing:
        names = ", ".join(_perm_name(p) for p in missing)
        problems.append(Problem(
            f"you may not {names} in namespace {cluster.namespace!r}; debugging a TaskRun needs "
            "them", fix="ask a cluster admin to add this rule to a Role bound to you in namespace "
                        f"{cluster.namespace!r}:\n{role_rules(missing)}"))
    if problems:
        raise RuntimeUnavailable("", problems=problems)
    return info


def _tekton_installed(cluster: Cluster, problems: list[Problem]) -> bool:
    apis = client.ApisApi(cluster.api)
    groups = call(cluster, "list the cluster's API groups", apis.get_api_versions)
    names = {g.name for g in groups.groups or []}
    if "tekton.dev" not in names:
        problems.append(Problem(
            f"Tekton Pipelines is not installed on {cluster.where}: it serves no tekton.dev API",
            fix="install it (kubectl apply -f https://storage.googleapis.com/tekton-releases/"
                "pipeline/latest/release.yaml), or pick another cluster with \"context\""))
        return False
    return True


def _configmap(cluster: Cluster, core: client.CoreV1Api, name: str) -> dict | str:
    """The ConfigMap as a dict, or a short reason why it could not be read."""
    try:
        cm = call(cluster, f"read ConfigMap {name}",
                  lambda: core.read_namespaced_config_map(name, TEKTON_NAMESPACE))
    except ApiException as e:
        return f"{e.status}: {server_message(e)}"
    return {"data": dict(cm.data or {})}


def missing_permissions(cluster: Cluster, wanted: list[tuple[str, str, str, str]]
                        ) -> list[tuple[str, str, str, str]]:
    """The permissions SelfSubjectAccessReview says this user lacks in the namespace."""
    authz = client.AuthorizationV1Api(cluster.api)
    missing = []
    for group, resource, sub, verb in wanted:
        review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                namespace=cluster.namespace, group=group, resource=resource,
                subresource=sub or None, verb=verb)))
        try:
            answer = call(cluster, "check your permissions (SelfSubjectAccessReview)",
                          lambda r=review: authz.create_self_subject_access_review(r))
        except ApiException:
            continue  # the review itself is not allowed: the real request will tell
        if not (answer.status and answer.status.allowed):
            missing.append((group, resource, sub, verb))
    return missing


def _perm_name(p: tuple[str, str, str, str]) -> str:
    group, resource, sub, verb = p
    return f"{verb} {resource}{'/' + sub if sub else ''}"


def role_rules(missing: list[tuple[str, str, str, str]]) -> str:
    """The Role rules (YAML) that grant ``missing``, one rule per (group, resource)."""
    by_key: dict[tuple[str, str], list[str]] = {}
    for group, resource, sub, verb in missing:
        by_key.setdefault((group, resource + (f"/{sub}" if sub else "")), []).append(verb)
    lines = []
    for (group, resource), verbs in by_key.items():
        lines.append(f'- apiGroups: ["{group}"]')
        lines.append(f'  resources: ["{resource}"]')
        lines.append("  verbs: [" + ", ".join(f'"{v}"' for v in verbs) + "]")
    return "\n".join(lines)

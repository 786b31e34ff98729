"""A local Elasticsearch cluster: N nodes, optionally secured (`movierec es up --nodes N --security`).

Node i serves HTTP on ES_URL's port + i and transport on that + 100. With `--security` the project
makes its own CA and node certificate (the `cryptography` package; no network), turns on TLS for
HTTP and transport, and adds two least-privilege users with file-based roles (`movierec.roles`):
`movierec-pipeline` and `movierec-api`, plus a superuser for maintenance. Everything secret lives
under the cluster's folder with mode 0600; `movierec es env` prints what clients need.

Why users and not API keys here: API keys (and native users and roles) live in the `.security`
index, whose mapping needs the `pattern_capture` token filter of the analysis-common module, which
the integ-test-zip lacks: `POST /_security/api_key` answers 400 "Unknown filter type
[pattern_capture] for [email]" on 8.19.21 and 9.5.3 alike. The file realm and `roles.yml` need no
index. Every movierec client takes `ES_API_KEY` as well, which is what a full distribution
(compose) or Elastic Cloud hands out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import shutil
from dataclasses import dataclass, field

from movierec.config import Settings
from movierec.esnode import Access, EsNodeError, LocalNode, NodeSpec, port_of
from movierec.roles import ROLES

ADMIN = "movierec-admin"
USERS = {"pipeline": "movierec-pipeline", "api": "movierec-api"}
MAX_NODES = 5


@dataclass
class ClusterState:
    base_port: int
    nodes: int
    security: bool
    credentials: dict = field(default_factory=dict, repr=False)

    @property
    def scheme(self) -> str:
        return "https" if self.security else "http"

    @property
    def ports(self) -> list[int]:
        return [self.base_port + i for i in range(self.nodes)]

    @property
    def urls(self) -> list[str]:
        return [f"{self.scheme}://127.0.0.1:{p}" for p in self.ports]


class LocalCluster:
    def __init__(self, settings: Settings, url: str | None = None) -> None:
        self.settings = settings
        self.base_port = port_of(url or settings.es_url)
        self.dir = settings.es_home / f"cluster-{self.base_port}"
        self.state_file = self.dir / "cluster.json"

    # -- state ---------------------------------------------------------------------

    def state(self) -> ClusterState | None:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return ClusterState(**data)

    def _save(self, state: ClusterState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.state_file.write_text(json.dumps(state.__dict__, indent=2))
        self.state_file.chmod(0o600)

    def access(self, state: ClusterState) -> Access:
        if not state.security:
            return Access()
        return Access(self.dir / "ca.crt", ADMIN, state.credentials.get("admin_password"))

    def nodes(self, state: ClusterState) -> list[LocalNode]:
        names = [f"movierec-{p}" for p in state.ports]
        transports = tuple(p + 100 for p in state.ports) if state.nodes > 1 else ()
        repo = self.settings.es_home / f"snapshots-{self.base_port}"
        heap = "512m" if state.nodes > 1 else None
        return [
            LocalNode(
                self.settings,
                url,
                spec=NodeSpec(
                    cluster_name=f"movierec-local-{self.base_port}",
                    node_name=name,
                    transport_ports=transports,
                    masters=tuple(names) if transports else (),
                    security=state.security,
                    heap=heap,
                    repo=repo,
                ),
                access=self.access(state),
            )
            for url, name in zip(state.urls, names, strict=True)
        ]

    # -- lifecycle -----------------------------------------------------------------

    def up(self, nodes: int = 1, *, security: bool = False, wait_s: float = 240.0) -> str:
        if not 1 <= nodes <= MAX_NODES:
            raise ValueError(f"--nodes must be 1..{MAX_NODES}, got {nodes}")
        current = self.state()
        if current and any(n.read_pid() for n in self.nodes(current)):
            if (current.nodes, current.security) != (nodes, security):
                raise EsNodeError(
                    f"a local cluster with {current.nodes} node(s), security {'on' if current.security else 'off'}, "
                    f"already runs on port {self.base_port}: `movierec es down` first"
                )
            _start_all([node for node in self.nodes(current) if not node.read_pid()])
            self.nodes(current)[0]._wait_ready(wait_s, nodes)
            return f"already running: {nodes} node(s) at {', '.join(current.urls)}"
        state = ClusterState(self.base_port, nodes, security)
        for node in self.nodes(state):
            if node.read_pid():
                raise EsNodeError(
                    f"a node already runs on port {node.port} (pid {node.read_pid()}): `movierec es down`"
                )
        if security:
            state.credentials["admin_password"] = secrets.token_urlsafe(24)
            for role in USERS:
                state.credentials[f"{role}_password"] = secrets.token_urlsafe(24)
        members = self.nodes(state)
        repo = members[0].spec.repo
        # A failed start leaves nothing behind: the folders this call created go again.
        created = [p for p in (repo, *(n.node_dir for n in members)) if not p.exists()]
        try:  # a failed start leaves nothing running and no folder it made
            repo.mkdir(parents=True, exist_ok=True)
            for node in members:
                self._reset_if_mode_changed(node, state)
                node.prepare()
                if security:
                    self._install_certs(node)
                    self._install_users(node, state)
            if members[0]._run_user():
                import subprocess

                subprocess.run(["chown", "-R", f"{self.settings.es_user}:", str(repo)], check=True)
            _start_all(members)
            members[0]._wait_ready(wait_s, nodes)
            if nodes == 1:
                members[0]._apply_local_defaults()
        except BaseException:
            for node in members:
                node.down()
            for folder in created:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        self._save(state)
        how = (
            "TLS, least-privilege users (`movierec es env`)"
            if security
            else "security OFF: anyone on this machine may write"
        )
        return f"started {nodes} node(s) at {', '.join(state.urls)}; {how}"

    def down(self) -> str:
        state = self.state() or ClusterState(self.base_port, 1, False)
        lines = [node.down() for node in self.nodes(state)]
        return "; ".join(lines)

    def status(self) -> list[str]:
        state = self.state() or ClusterState(self.base_port, 1, False)
        members = self.nodes(state)
        running = [n for n in members if n.read_pid()]
        if not running:
            return [f"not running (would serve {', '.join(state.urls)})"]
        access = self.access(state)
        health = next(filter(None, (access.get_json(f"{n.url}/_cluster/health") for n in running)), {})
        cat = self._cat_nodes(access, running)
        roles = {row.get("name"): row for row in cat}
        security = "on (TLS, file-realm users)" if state.security else "OFF"
        lines = [f"cluster movierec-local-{self.base_port}: status {health.get('status', '?')}, security {security}"]
        for node in members:
            pid = node.read_pid()
            row = roles.get(node.spec.node_name)
            if row is None:
                role, health = "-", "running, not in the cluster" if pid else "stopped"
            else:
                role = node_role(row.get("node.role", ""))
                health = f"in the cluster, heap {row.get('heap.percent', '?')}%"
                health += ", elected master" if row.get("master") == "*" else ""
            lines.append(
                f"  {node.spec.node_name}: pid {pid or '-'}, http {node.port}, transport {node.port + 100}, "
                f"role {role}, {health}"
            )
        return lines

    @staticmethod
    def _cat_nodes(access: Access, running: list[LocalNode]) -> list[dict]:
        """The cluster's members as the first running node that answers sees them."""
        for node in running:
            cat = access.get_json(f"{node.url}/_cat/nodes?format=json&h=name,master,node.role,heap.percent")
            if isinstance(cat, list):
                return cat
        return []

    def env(self, role: str = "pipeline") -> list[str]:
        """`KEY=value` lines for clients of the running cluster (ES_API_KEY: the role's key)."""
        state = self.state()
        if state is None or not any(n.read_pid() for n in self.nodes(state)):
            raise EsNodeError(f"no local cluster runs on port {self.base_port}: start one with `movierec es up`")
        if role not in ROLES:
            raise ValueError(f"--role must be one of {', '.join(ROLES)}")
        lines = [f"ES_URL={','.join(state.urls)}"]
        if state.security:
            lines += [
                f"ES_CA_CERTS={self.dir / 'ca.crt'}",
                f"ES_USERNAME={USERS[role]}",
                f"ES_PASSWORD={state.credentials[f'{role}_password']}",
            ]
        return lines

    # -- security ------------------------------------------------------------------

    def _reset_if_mode_changed(self, node: LocalNode, state: ClusterState) -> None:
        """A node's data from another cluster shape (single node vs N) cannot join: start it afresh."""
        mode_file = node.node_dir / "mode.json"
        mode = {"nodes": state.nodes, "base_port": state.base_port}
        try:
            previous = json.loads(mode_file.read_text())
        except (OSError, ValueError):
            previous = None
        if previous is not None and previous != mode:
            shutil.rmtree(node.node_dir / "data", ignore_errors=True)
        node.node_dir.mkdir(parents=True, exist_ok=True)
        mode_file.write_text(json.dumps(mode))

    def _install_users(self, node: LocalNode, state: ClusterState) -> None:
        """File-based roles (JSON is YAML) and file-realm users with fresh passwords, on every node."""
        roles = {f"movierec_{role}": build(self.settings.index_prefix) for role, build in ROLES.items()}
        (node.node_dir / "config" / "roles.yml").write_text(roles_yaml(roles))
        users = [(ADMIN, "admin_password", "superuser")]
        users += [(USERS[role], f"{role}_password", f"movierec_{role}") for role in USERS]
        for user, key, role in users:
            password = state.credentials[key]
            try:
                node.tool("elasticsearch-users", "useradd", user, "-p", password, "-r", role)
            except EsNodeError as exc:
                if "already exists" not in str(exc):
                    raise
                node.tool("elasticsearch-users", "passwd", user, "-p", password)
                node.tool("elasticsearch-users", "roles", user, "-a", role)

    def _install_certs(self, node: LocalNode) -> None:
        ca_key, ca_cert = self._ca()
        certs = node.node_dir / "config" / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        key, cert = _node_certificate(ca_key, ca_cert)
        for name, data in (("ca.crt", _pem(ca_cert)), ("node.key", _pem(key)), ("node.crt", _pem(cert))):
            (certs / name).write_bytes(data)
            (certs / name).chmod(0o600)

    def _ca(self) -> tuple:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        key_path, cert_path = self.dir / "ca.key", self.dir / "ca.crt"
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
        key, cert = _ca_certificate()
        for path, data in ((key_path, _pem(key)), (cert_path, _pem(cert))):
            path.write_bytes(data)
            path.chmod(0o600)
        return key, cert


def node_role(letters: str) -> str:
    """`_cat/nodes` role letters in words: "cdfhilmrstw" -> "master-eligible+data"."""
    words = [word for letter, word in (("m", "master-eligible"), ("d", "data")) if letter in letters]
    if not words and letters:
        return letters
    return "+".join(words) or "coordinating only"


def _start_all(members: list[LocalNode]) -> None:
    """Start node processes side by side: `elasticsearch -d` returns only once its node has started
    (about 35 s each under load here), and none of them needs another to get that far."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(len(members), 1)) as pool:
        for future in [pool.submit(node.start) for node in members]:
            future.result()


def roles_yaml(roles: dict) -> str:
    """roles.yml in block style: the file realm reads each role as a YAML block (not one JSON document)."""
    lines = []
    for name, role in roles.items():
        lines.append(f"{name}:")
        lines.append(f"  cluster: {json.dumps(role['cluster'])}")
        lines.append("  indices:")
        for entry in role["indices"]:
            lines.append(f"    - names: {json.dumps(entry['names'])}")
            lines.append(f"      privileges: {json.dumps(entry['privileges'])}")
    return "\n".join(lines) + "\n"


def _pem(obj: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    return obj.public_bytes(serialization.Encoding.PEM)


def _ca_certificate() -> tuple:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "movierec local CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _node_certificate(ca_key: object, ca_cert: object) -> tuple:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "movierec local node")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert

"""A private 3-node Galera cluster for the cluster tests (#18), run by scripts/cluster, and the
gateways on it: each gateway's userstore names one node (or all of them, in `hosts`), and all of
them share one work folder, so one master key, JWT secret and db.pass (README "Several
gateways")."""

import os
import secrets
import shutil
import subprocess
import threading

import wsg

SCRIPT = os.path.join(wsg.TOP_SRC, "scripts", "cluster")


def _free_run(width, step=1, count=1):
    """A base port B with B + step*i + j bindable for i < count, j < width."""
    low = wsg._ephemeral_low()
    for _ in range(500):
        base = secrets.randbelow(max(low - 12000, 1)) + 10000
        ports = [base + step * i + j for i in range(count) for j in range(width)]
        if ports[-1] < low and all(wsg._bindable(p) for p in ports):
            return base
    raise RuntimeError("no free port range")


class Node:
    """One node as a wsg.MariaDB-like object: .port, .socket and .sql() (as root)."""

    def __init__(self, cluster, n, port, sock):
        self.cluster, self.n, self.port, self.socket = cluster, n, port, sock

    def sql(self, statements, database=None):
        argv = ["mariadb", "--no-defaults", "--socket=" + self.socket, "-u", self.cluster.user,
                "--batch", "--skip-column-names"]
        if database:
            argv.append(database)
        r = subprocess.run(argv, input=statements, capture_output=True, text=True,
                           env=wsg.clean_env(), timeout=60)
        if r.returncode != 0:
            raise RuntimeError("SQL on node %d failed: %s\n%s" % (self.n, statements, r.stderr))
        return r.stdout

    def status(self, variable):
        out = self.sql("SHOW GLOBAL STATUS LIKE '%s'" % variable)
        return out.split("\t", 1)[1].strip() if "\t" in out else ""

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


class Cluster:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "galera")
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        self.nodes = []

    def run(self, *args, timeout=300):
        r = subprocess.run([SCRIPT] + list(args), capture_output=True, text=True,
                           env=wsg.clean_env(), timeout=timeout * wsg.TIME_SCALE)
        if r.returncode != 0:
            raise RuntimeError("scripts/cluster %s failed (%d):\n%s%s"
                               % (" ".join(args), r.returncode, r.stdout, r.stderr[-4000:]))
        return r.stdout

    def start(self):
        sql = _free_run(3)
        gal = _free_run(3, step=10, count=3)
        self.run("start", self.dir, "--port", str(sql), "--galera-port", str(gal))
        env = {}
        with open(os.path.join(self.dir, "cluster.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                env[k] = v
        self.nodes = [Node(self, n, int(env["NODE%d_PORT" % n]), env["NODE%d_SOCKET" % n])
                      for n in (1, 2, 3)]

    def kill(self, n):
        """SIGKILL node n (1..3), as in a crash."""
        self.run("kill-node", self.dir, str(n))

    def start_nodes(self, *ns):
        """Nodes that left rejoin (together, see scripts/cluster) and are Synced on return."""
        self.run("start-node", self.dir, *[str(n) for n in ns])

    def status(self):
        return self.run("status", self.dir)

    def remove(self):
        if os.path.exists(os.path.join(self.dir, "cluster.env")):
            self.run("remove", self.dir)

    def hosts(self):
        """libconfig text of userstore.hosts naming every node."""
        return "( %s )" % ", ".join('"%s"' % n.address for n in self.nodes)


def setup_database(cluster, gw):
    """wsg.setup_database() on the cluster: the database user for TCP and socket access and the
    schema, created through node 1 (Galera replicates DDL and accounts), then the harness users
    and roles through gw's CLI. Once per cluster: a gateway in another folder later gets the
    first folder's db.pass, master key and JWT secret (what an operator copies to each host)."""
    first = getattr(cluster, "setup_dir", None)
    if first is None:
        wsg.setup_database(cluster.nodes[0], gw)
        cluster.setup_dir = gw.dir
        return
    for name in ("db.pass", "master.key", "jwt.key"):
        src = os.path.join(first, name)
        if first != gw.dir and os.path.exists(src):
            shutil.copy2(src, os.path.join(gw.dir, name))


def race(*calls):
    """Runs the calls at the same moment on threads; their answers, in order."""
    out = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i, call):
        start.wait()
        out[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out

"""cloud-init user data of the cloud host, generated from the model.

The document installs Docker (Debian's `docker.io`) and Tailscale (from
Tailscale's signed apt repository), hardens SSH, mounts the data volume under
Docker's data root and joins the tailnet with a single-use auth key. The key
is written to a 0600 file that `tailscale up --auth-key=file:PATH` reads, and
the bootstrap script deletes it on exit, so it never appears on a command
line. Every step that can fail runs in that one `set -eu` script: a failure
ends cloud-init with an error, which the readiness check reports.

Hetzner limits user data to 32 KiB. The tests validate the output with the
real `cloud-init schema` and check its size.
"""

from __future__ import annotations

import yaml

from config.model import Host, Model

USER_DATA_LIMIT_BYTES = 32 * 1024
# The data volume is mounted here, and Docker keeps everything (volumes,
# containers, images) below it, so a rebuilt server finds the same state.
DATA_MOUNT = "/mnt/data"
DOCKER_ROOT = f"{DATA_MOUNT}/docker"
AUTH_KEY_PATH = "/run/kitestacks/tailscale-auth-key"
BOOTSTRAP_PATH = "/usr/local/sbin/kitestacks-bootstrap"
# How long the bootstrap waits for the volume: it is attached only after the
# server exists, usually within seconds.
VOLUME_WAIT_SECONDS = 300

# Tailscale's package signing key ("Tailscale Inc. (Package repository signing
# key) <info@tailscale.com>", rsa4096, 2020-02-25). apt fetches it from the
# keyserver by this full fingerprint, and the keyring it lands in signs only
# Tailscale's repository (`signed-by`).
TAILSCALE_KEY_FINGERPRINT = "2596A99EAAB33821893C0A79458CA832957F5868"
TAILSCALE_KEYSERVER = "keyserver.ubuntu.com"
TAILSCALE_REPOSITORY = "https://pkgs.tailscale.com/stable/debian"
# The Debian release of each Hetzner image that this cloud-init supports; the
# Tailscale repository has one suite per release.
DEBIAN_RELEASES = {"debian-12": "bookworm", "debian-13": "trixie"}


def check_cloud_hosts(model: Model) -> list[str]:
    """Return a problem for each cloud server whose image this cloud-init does not support."""
    problems: list[str] = []
    for name, host in model.catalogue.hosts.items():
        if host.server is not None and host.server.image not in DEBIAN_RELEASES:
            problems.append(
                f"hosts.{name}.server.image: '{host.server.image}' is not supported; the "
                f"cloud-init targets Debian, use one of {', '.join(DEBIAN_RELEASES)}"
            )
    return problems


def tailscale_source(image: str) -> str:
    """Return the apt source line of Tailscale's repository for a Debian image."""
    return f"deb [signed-by=$KEY_FILE] {TAILSCALE_REPOSITORY} {DEBIAN_RELEASES[image]} main"


def volume_device(volume_id: str) -> str:
    """Return the stable device path under which Hetzner attaches a volume."""
    return f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}"


def sshd_config(host: Host) -> str:
    """Return the sshd drop-in that allows key logins of the deploy user only.

    sshd keeps the first value it reads, and Debian includes the drop-ins in
    name order at the top of sshd_config, so "10-" wins over cloud-init's own
    50-cloud-init.conf.
    """
    return (
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "AuthenticationMethods publickey\n"
        "PermitRootLogin no\n"
        f"AllowUsers {host.ssh_user}\n"
        "MaxAuthTries 3\n"
        "X11Forwarding no\n"
    )


def docker_unit_override() -> str:
    """Return the docker.service drop-in that orders the engine after its volume and Tailscale."""
    return (
        "[Unit]\n"
        "# Never start an empty engine on the root disk when the volume is missing.\n"
        f"RequiresMountsFor={DATA_MOUNT}\n"
        "# Containers publish their ports on the tailnet address.\n"
        "Wants=tailscaled.service\n"
        "After=tailscaled.service\n"
    )


def docker_daemon_json() -> str:
    """Return /etc/docker/daemon.json: the data root on the volume and rotated logs."""
    return (
        '{"data-root": "' + DOCKER_ROOT + '", "log-driver": "json-file", '
        '"log-opts": {"max-size": "10m", "max-file": "3"}}\n'
    )


def sysctl_config() -> str:
    """Return the sysctl drop-in that lets containers bind the tailnet address early.

    Docker publishes ports on the tailnet address, which exists only once
    tailscaled is up. Without non-local binds, a container that starts first
    at boot fails to publish its port.
    """
    return "net.ipv4.ip_nonlocal_bind = 1\nnet.ipv6.ip_nonlocal_bind = 1\n"


def bootstrap_script(host_name: str, host: Host, volume_id: str) -> str:
    """Return the first-boot script: mount the volume, start Docker and SSH, join the tailnet."""
    device = volume_device(volume_id)
    tries = VOLUME_WAIT_SECONDS // 2
    return f"""#!/bin/sh
# First-boot bootstrap of {host_name}, written by cloud-init from the KiteStacks
# Pulumi program. Any failure ends cloud-init with an error.
set -eu
trap 'rm -f {AUTH_KEY_PATH}' EXIT

tries=0
until [ -e {device} ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt {tries} ]; then
    echo "data volume {device} not attached after {VOLUME_WAIT_SECONDS}s" >&2
    exit 1
  fi
  sleep 2
done
mountpoint -q {DATA_MOUNT} || mount {DATA_MOUNT}
install -d -m 0710 {DOCKER_ROOT}
install -d -m 0755 {host.data_dir}

sysctl --quiet --system
systemctl daemon-reload
systemctl restart docker
sshd -t
systemctl restart ssh

tailscale up --auth-key=file:{AUTH_KEY_PATH} --hostname={host_name} --ssh=false --timeout=5m
"""


def user_data(
    host_name: str, host: Host, ssh_keys: tuple[str, ...], auth_key: str, volume_id: str
) -> str:
    """Return the #cloud-config document for a Hetzner host."""
    assert host.server is not None, "a hetzner host has a server block"
    document: dict[str, object] = {
        "hostname": host_name,
        "users": [
            {
                "name": host.ssh_user,
                "groups": ["docker"],
                "shell": "/bin/bash",
                # The Docker provider and the readiness check log in as this
                # user; sudo is for the admins' maintenance.
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": list(ssh_keys),
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
        "mounts": [
            [
                volume_device(volume_id),
                DATA_MOUNT,
                "ext4",
                "defaults,nofail,discard,x-systemd.device-timeout=5min",
                "0",
                "2",
            ]
        ],
        "apt": {
            "sources": {
                "tailscale": {
                    "source": tailscale_source(host.server.image),
                    "keyid": TAILSCALE_KEY_FINGERPRINT,
                    "keyserver": TAILSCALE_KEYSERVER,
                }
            }
        },
        "package_update": True,
        "packages": ["ca-certificates", "docker.io", "tailscale", "unattended-upgrades"],
        "write_files": [
            {
                "path": "/etc/ssh/sshd_config.d/10-kitestacks.conf",
                "permissions": "0644",
                "content": sshd_config(host),
            },
            {
                "path": "/etc/docker/daemon.json",
                "permissions": "0644",
                "content": docker_daemon_json(),
            },
            {
                "path": "/etc/systemd/system/docker.service.d/10-kitestacks.conf",
                "permissions": "0644",
                "content": docker_unit_override(),
            },
            {
                "path": "/etc/sysctl.d/60-kitestacks.conf",
                "permissions": "0644",
                "content": sysctl_config(),
            },
            {
                "path": "/etc/apt/apt.conf.d/20auto-upgrades",
                "permissions": "0644",
                "content": (
                    'APT::Periodic::Update-Package-Lists "1";\n'
                    'APT::Periodic::Unattended-Upgrade "1";\n'
                ),
            },
            {
                "path": BOOTSTRAP_PATH,
                "permissions": "0700",
                "content": bootstrap_script(host_name, host, volume_id),
            },
            {
                # NOTE: the key also stays readable from Hetzner's metadata
                # service and /var/lib/cloud. It is single use and expires
                # within the hour, so a later copy joins nothing.
                "path": AUTH_KEY_PATH,
                "permissions": "0600",
                "content": auth_key,
            },
        ],
        "runcmd": [[BOOTSTRAP_PATH]],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)

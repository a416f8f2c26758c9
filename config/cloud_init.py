"""cloud-init user data of the cloud host, generated from the model.

Hetzner limits user data to 32 KiB. The tests validate the output with
`cloud-init schema` and check its size.
"""

from __future__ import annotations

import yaml

from config.model import Host

USER_DATA_LIMIT_BYTES = 32 * 1024
DATA_MOUNT = "/mnt/data"


def volume_device(volume_id: str) -> str:
    """Return the stable device path under which Hetzner attaches a volume."""
    return f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}"


def user_data(
    host_name: str, host: Host, ssh_keys: tuple[str, ...], auth_key: str, volume_id: str
) -> str:
    """Return the #cloud-config document for a Hetzner host."""
    docker_root = f"{DATA_MOUNT}/docker"
    device = volume_device(volume_id)
    document: dict[str, object] = {
        "hostname": host_name,
        "users": [
            {
                "name": host.ssh_user,
                "groups": ["docker"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": list(ssh_keys),
            }
        ],
        "disable_root": True,
        "mounts": [[device, DATA_MOUNT, "ext4", "discard,nofail,defaults", "0", "2"]],
        "ssh_pwauth": False,
        "package_update": True,
        "packages": ["ca-certificates", "curl", "docker.io", "unattended-upgrades"],
        "write_files": [
            {
                "path": "/etc/ssh/sshd_config.d/10-kitestacks.conf",
                "permissions": "0644",
                "content": (
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "PermitRootLogin no\n"
                    f"AllowUsers {host.ssh_user}\n"
                ),
            },
            {
                "path": "/etc/docker/daemon.json",
                "permissions": "0644",
                "content": (
                    '{"data-root": "' + docker_root + '", '
                    '"log-driver": "json-file", '
                    '"log-opts": {"max-size": "10m", "max-file": "3"}}\n'
                ),
            },
            {
                # Read by `tailscale up` and deleted right after, so the key
                # never appears on a command line.
                "path": "/run/kitestacks/tailscale-auth-key",
                "permissions": "0600",
                "content": auth_key,
            },
        ],
        "runcmd": [
            # The volume is attached after the server exists, so wait for the
            # device, then mount it through the fstab entry written above.
            [
                "sh",
                "-c",
                f"for i in $(seq 120); do [ -e {device} ] && break; sleep 2; done; "
                f"mkdir -p {DATA_MOUNT} && mount {DATA_MOUNT}",
            ],
            ["mkdir", "-p", docker_root, host.data_dir],
            ["systemctl", "restart", "ssh"],
            ["systemctl", "restart", "docker"],
            ["sh", "-c", "curl -fsSL https://tailscale.com/install.sh | sh"],
            [
                "tailscale",
                "up",
                "--auth-key=file:/run/kitestacks/tailscale-auth-key",
                f"--hostname={host_name}",
                "--ssh=false",
            ],
            ["rm", "-f", "/run/kitestacks/tailscale-auth-key"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)

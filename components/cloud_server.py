"""The Hetzner Cloud server: SSH keys, firewall, server, data volume and readiness."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_hcloud as hcloud

from components.naming import child, type_token
from config.cloud_init import user_data
from config.model import Host

# Tailscale's direct connections use UDP 41641; everything else reaches the
# server over the tailnet, so no TCP port is open to the internet.
TAILSCALE_UDP_PORT = "41641"
ANYWHERE = ["0.0.0.0/0", "::/0"]


class CloudServer(pulumi.ComponentResource):
    """A protected Hetzner server that joins the tailnet on first boot.

    The server ignores later changes to its user data and SSH keys, because
    Hetzner replaces a server when either changes. To roll out a changed
    cloud-init on purpose, run `pulumi up --replace <server URN>` after moving
    the data off, or apply the change over SSH.
    """

    server: hcloud.Server
    ready: command.remote.Command

    def __init__(
        self,
        name: str,
        host_name: str,
        host: Host,
        ssh_keys: tuple[str, ...],
        auth_key: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("hetzner", "CloudServer"), name, None, opts)
        spec = host.server
        assert spec is not None, "a hetzner host has a server block"
        labels = {"project": "kitestacks", "host": host_name}

        keys = [
            hcloud.SshKey(
                child(name, "ssh-key", str(index)),
                hcloud.SshKeyArgs(name=f"{host_name}-{index}", public_key=key, labels=labels),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for index, key in enumerate(ssh_keys)
        ]

        firewall = hcloud.Firewall(
            child(name, "firewall"),
            hcloud.FirewallArgs(
                name=host_name,
                labels=labels,
                rules=[
                    hcloud.FirewallRuleArgs(
                        direction="in",
                        protocol="udp",
                        port=TAILSCALE_UDP_PORT,
                        source_ips=ANYWHERE,
                        description="Tailscale direct connections",
                    ),
                    hcloud.FirewallRuleArgs(
                        direction="in",
                        protocol="icmp",
                        source_ips=ANYWHERE,
                        description="ping and path MTU discovery",
                    ),
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.volume = hcloud.Volume(
            child(name, "data"),
            hcloud.VolumeArgs(
                name=f"{host_name}-data",
                size=spec.volume_gb,
                location=spec.location,
                format="ext4",
                delete_protection=True,
                labels=labels,
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )

        self.server = hcloud.Server(
            child(name, "server"),
            hcloud.ServerArgs(
                name=host_name,
                server_type=spec.server_type,
                image=spec.image,
                location=spec.location,
                user_data=pulumi.Output.secret(
                    pulumi.Output.all(auth_key, self.volume.id).apply(
                        lambda values: user_data(host_name, host, ssh_keys, values[0], values[1])
                    )
                ),
                ssh_keys=[key.id for key in keys],
                firewall_ids=[firewall.id.apply(int)],
                backups=spec.backups,
                # Hetzner requires both protections to be equal.
                delete_protection=True,
                rebuild_protection=True,
                labels=labels,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=True,
                retain_on_delete=True,
                # Hetzner replaces the server when either changes; see the class doc.
                ignore_changes=["userData", "sshKeys"],
            ),
        )

        attachment = hcloud.VolumeAttachment(
            child(name, "data-attachment"),
            hcloud.VolumeAttachmentArgs(
                server_id=self.server.id.apply(int),
                volume_id=self.volume.id.apply(int),
                # cloud-init mounts the volume by its device id instead.
                automount=False,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # Docker on the server is usable once cloud-init has finished: this
        # command connects over the tailnet and waits for that.
        self.ready = command.remote.Command(
            child(name, "cloud-init-done"),
            command.remote.CommandArgs(
                connection=command.remote.ConnectionArgs(
                    host=str(host.tailnet_ip), user=host.ssh_user, dial_error_limit=60
                ),
                create="cloud-init status --wait >/dev/null; cloud-init status",
                triggers=[self.server.id],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        self.register_outputs({"serverId": self.server.id, "ipv4": self.server.ipv4_address})

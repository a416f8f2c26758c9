"""The Hetzner Cloud server: SSH keys, firewall, server, data volume and readiness."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_hcloud as hcloud

from components.naming import child, type_token
from config.cloud_init import user_data
from config.model import Host

# Tailscale's direct connections use UDP 41641; everything else reaches the
# server over the tailnet, so no TCP port is open to the internet. Outbound
# traffic is not filtered: a Hetzner firewall without outbound rules allows it.
TAILSCALE_UDP_PORT = "41641"
ANYWHERE = ["0.0.0.0/0", "::/0"]
# The readiness check retries the SSH dial while the server boots and joins
# the tailnet: 90 dials of up to 15 s each, about 20 minutes in all.
READY_DIAL_LIMIT = 90
# Server properties that Hetzner can only set by replacing the server.
CREATE_ONLY = ["userData", "sshKeys"]


def readiness_script(host_name: str, host: Host) -> str:
    """Return the command that waits for cloud-init and checks the tailnet address.

    `cloud-init status --wait` exits 1 when cloud-init failed; cloud-init 23.4
    and later also exit 2 for recoverable problems such as deprecated keys,
    which leave the host usable. The catalogue pins the host's tailnet
    address, which Tailscale assigns at random on the first join, so a
    mismatch stops the deployment with the fix instead of publishing ports on
    an address the host does not have.
    """
    expected = str(host.tailnet_ip)
    return (
        "cloud-init status --wait >/dev/null; code=$?\n"
        "cloud-init status --long\n"
        'if [ "$code" -eq 1 ]; then\n'
        f'  echo "cloud-init failed on {host_name}; read /var/log/cloud-init-output.log" >&2\n'
        "  exit 1\n"
        "fi\n"
        "address=$(tailscale ip -4)\n"
        f'if [ "$address" != "{expected}" ]; then\n'
        f'  echo "{host_name} has tailnet address $address but config/catalogue.yaml '
        f"expects {expected}; set it in the Tailscale admin console (Machines, {host_name}, "
        'Edit machine IPv4) and run pulumi up again" >&2\n'
        "  exit 1\n"
        "fi\n"
    )


class CloudServer(pulumi.ComponentResource):
    """A protected Hetzner server that joins the tailnet on first boot.

    Hetzner replaces a server when its user data or SSH keys change, so the
    server ignores later changes to both and is protected in Pulumi and at
    Hetzner. Its data lives on a separate protected volume that Docker keeps
    its whole data root on. `rebuild=True` lifts the protection and the
    ignored changes for one deliberate `pulumi up` that replaces the server
    with the current cloud-init. docs/hosts.md has the procedure.
    """

    server: hcloud.Server
    volume: hcloud.Volume
    ready: command.remote.Command

    def __init__(
        self,
        name: str,
        host_name: str,
        host: Host,
        ssh_keys: tuple[str, ...],
        auth_key: pulumi.Output[str],
        tailnet_domain: str,
        rebuild: bool = False,
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
                # Hetzner requires both protections to be equal. The provider
                # does not reliably lift them before a delete, so a rebuild
                # lifts them first (see hetznercloud/terraform-provider-hcloud#1206).
                delete_protection=not rebuild,
                rebuild_protection=not rebuild,
                # A clean shutdown leaves the data volume's file system clean.
                shutdown_before_deletion=True,
                labels=labels,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                # Pulumi reads protect and retainOnDelete from the state, so a
                # rebuild first runs `pulumi up` with both lifted, then replaces.
                protect=not rebuild,
                retain_on_delete=not rebuild,
                ignore_changes=[] if rebuild else CREATE_ONLY,
                # Server names are unique per Hetzner project.
                delete_before_replace=True,
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
            # A volume is attached to one server at a time.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        # Docker on the server is usable once cloud-init has finished and the
        # host has its catalogue address. The check dials the MagicDNS name,
        # which exists as soon as the host joins, even before its address is
        # fixed. It does not pin the SSH host key: only the tagged node can
        # hold that name on the tailnet, and WireGuard authenticates it.
        self.ready = command.remote.Command(
            child(name, "cloud-init-done"),
            command.remote.CommandArgs(
                connection=command.remote.ConnectionArgs(
                    host=f"{host_name}.{tailnet_domain}",
                    user=host.ssh_user,
                    dial_error_limit=READY_DIAL_LIMIT,
                ),
                create=readiness_script(host_name, host),
                triggers=[self.server.id],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment]),
        )
        self.register_outputs(
            {
                "serverId": self.server.id,
                "ipv4": self.server.ipv4_address,
                "volumeId": self.volume.id,
            }
        )

"""The tailnet policy and the auth key that joins kscloud1 to the tailnet."""

from __future__ import annotations

import pulumi
import pulumi_tailscale as tailscale

from components.naming import child, type_token
from config.tailnet_policy import host_tag, policy_json
from config.topology import Topology

# One hour is enough for a server to boot and run cloud-init. The key is
# single use, so a leaked copy is worthless after the join anyway.
AUTH_KEY_EXPIRY_SECONDS = 3600
# A used or expired key stays in the state as it is. A fresh key is created
# only when a rebuild replaces it on purpose (docs/hosts.md), so no valid,
# unused key exists between deployments.
RECREATE_IF_INVALID = "never"


class Tailnet(pulumi.ComponentResource):
    """The whole tailnet policy, generated from the derived flows, and host auth keys."""

    acl: tailscale.Acl
    auth_keys: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        topology: Topology,
        key_hosts: tuple[str, ...],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("tailscale", "Tailnet"), name, None, opts)

        self.acl = tailscale.Acl(
            child(name, "policy"),
            tailscale.AclArgs(
                acl=policy_json(topology),
                # The program owns the whole policy file, so the first run
                # replaces whatever policy the tailnet had.
                overwrite_existing_content=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.auth_keys = {}
        for host in key_hosts:
            key = tailscale.TailnetKey(
                child(name, host, "auth-key"),
                tailscale.TailnetKeyArgs(
                    description=f"kitestacks {host}",
                    reusable=False,
                    ephemeral=False,
                    preauthorized=True,
                    tags=[host_tag(host)],
                    expiry=AUTH_KEY_EXPIRY_SECONDS,
                    recreate_if_invalid=RECREATE_IF_INVALID,
                ),
                # A tag must be owned in the policy before a key can carry it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.acl]),
            )
            self.auth_keys[host] = pulumi.Output.secret(key.key)
        self.register_outputs({})

"""Generated secrets: one RandomPassword per declared secret."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from components.naming import child, type_token
from config.topology import SecretName


class GeneratedSecrets(pulumi.ComponentResource):
    """Every generated password of the catalogue, owned by the upstream stack.

    The upstream stack keeps them so that a rebuilt downstream stack gets the
    same passwords back, which the databases on retained volumes still expect.
    """

    values: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        secrets: tuple[SecretName, ...],
        lengths: dict[str, int],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("random", "GeneratedSecrets"), name, None, opts)
        self.values = {}
        for secret in secrets:
            password = random.RandomPassword(
                child(name, secret.service, secret.name.replace("_", "-")),
                random.RandomPasswordArgs(
                    length=lengths.get(secret.key, 32),
                    # Letters and digits only: these values end up in URLs,
                    # shell-free env files and config files without quoting.
                    special=False,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            # The SDK marks `result` secret only through the engine; wrapping it
            # here keeps it secret under mocks and in every derived value.
            self.values[secret.key] = pulumi.Output.secret(password.result)
        self.register_outputs({"count": len(self.values)})

"""A Docker engine on one host: its provider, networks, images and volumes."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.naming import child, type_token

# Docker's name of a service's network is this prefix and the service's name.
NETWORK_PREFIX = "kitestacks-"


class DockerHost(pulumi.ComponentResource):
    """The Docker engine of one host, reached over SSH on the tailnet.

    Every Docker resource of the host uses `provider`, and the project disables
    the default Docker provider, so nothing can land on the daemon of the
    machine that runs Pulumi by mistake.
    """

    provider: docker.Provider

    def __init__(
        self,
        name: str,
        ssh_user: str,
        address: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(type_token("docker", "DockerHost"), name, None, opts)
        self._name = name
        # Commands that run `docker exec` on this host connect the same way.
        self.ssh_user = ssh_user
        self.address = address
        self._images: dict[str, docker.RemoteImage] = {}
        self._volumes: dict[str, docker.Volume] = {}
        self._networks: dict[str, docker.Network] = {}

        self.provider = docker.Provider(
            child(name, "docker"),
            docker.ProviderArgs(
                host=pulumi.Output.concat("ssh://", ssh_user, "@", address),
                # The provider shells out to the local ssh client: batch mode
                # fails fast instead of waiting for a password prompt, and a
                # freshly built host's key is accepted on first use (the
                # tailnet already authenticates the peer) but never replaced.
                ssh_opts=[
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "ConnectTimeout=15",
                    "-o",
                    "StrictHostKeyChecking=accept-new",
                ],
            ),
            # A component's depends_on delays only the component's own
            # registration, not its children's, so the provider, which every
            # Docker resource of the host uses, carries it instead.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=opts.depends_on if opts is not None else None
            ),
        )
        self.register_outputs({})

    def network(self, service: str) -> docker.Network:
        """Return the bridge network of one service, creating it on first use.

        The service's container and the containers that connect to it join
        it, so a container reaches only the services it uses. Containers keep
        Docker's outbound access to the internet.
        """
        if service not in self._networks:
            self._networks[service] = docker.Network(
                child(self._name, f"network-{service}"),
                docker.NetworkArgs(
                    name=f"{NETWORK_PREFIX}{service}", driver="bridge", attachable=False
                ),
                opts=self.child_options(),
            )
        return self._networks[service]

    def child_options(self, keep: bool = False) -> pulumi.ResourceOptions:
        """Return options that pin a child to this host's engine; `keep` protects data."""
        return pulumi.ResourceOptions(
            parent=self, provider=self.provider, protect=keep, retain_on_delete=keep
        )

    def image(self, reference: str) -> docker.RemoteImage:
        """Return the pulled image, shared by every container of this host that uses it."""
        if reference not in self._images:
            slug = image_slug(reference)
            self._images[reference] = docker.RemoteImage(
                child(self._name, "image", slug),
                docker.RemoteImageArgs(name=reference, keep_locally=True),
                opts=self.child_options(),
            )
        return self._images[reference]

    def volume(self, name: str) -> docker.Volume:
        """Return a named volume; it is protected and kept when removed from the program."""
        if name not in self._volumes:
            self._volumes[name] = docker.Volume(
                child(self._name, "volume", name),
                docker.VolumeArgs(name=name),
                opts=self.child_options(keep=True),
            )
        return self._volumes[name]


def image_slug(reference: str) -> str:
    """Return a resource name part for an image: its path and tag, without the registry.

    The path keeps images apart that share a name and tag under different
    owners, such as two `server:1.0` images.
    """
    path = reference.split("@", 1)[0]
    first, _, rest = path.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest
    return path.replace("/", "-").replace(":", "-").replace(".", "-")

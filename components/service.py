"""One service of the catalogue running as a container on one host."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.docker_host import DockerHost
from components.naming import child, type_token
from components.sso import sso_setup_command
from components.values import SecretLookup, redacted, to_input
from config.generated import generate
from config.topology import Topology

RESTART_POLICY = "unless-stopped"
# Docker's json-file driver grows without bound unless it rotates.
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}


class Service(pulumi.ComponentResource):
    """A container of one catalogue service with its image, volumes and files.

    Ports are published only where another host must reach the service, and
    then only on the host's tailnet address, never on 0.0.0.0.

    A generated file that contains a secret reaches the container as one
    secret value, which a preview shows only as [secret]. So the component's input
    `redactedFiles` carries each such file with only its secret parts replaced
    by [secret], for example Kavita's settings with its client secret.
    """

    container: docker.Container

    def __init__(
        self,
        name: str,
        service: str,
        host: str,
        docker_host: DockerHost,
        topology: Topology,
        lookup: SecretLookup,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = topology.service(service)
        files = {
            path: topology.resolve(file_text(topology, service, host, path), service, host)
            for path in sorted(spec.files)
        }
        redacted_files = {
            path: redacted(parts)
            for path, parts in files.items()
            if not all(isinstance(part, str) for part in parts)
        }
        props = {"redactedFiles": redacted_files} if redacted_files else None
        super().__init__(type_token("docker", "Service"), name, props, opts)
        tailnet_ip = topology.tailnet_ip(host)

        image = docker_host.image(spec.image)

        envs = [
            to_input((f"{key}=", *topology.resolve(value, service, host)), lookup)
            for key, value in sorted(topology.env_of(service).items())
        ]

        volumes = [
            docker.ContainerVolumeArgs(
                volume_name=docker_host.volume(volume).name, container_path=path
            )
            for volume, path in sorted(spec.volumes.items())
        ]
        volumes += [
            docker.ContainerVolumeArgs(
                host_path=source,
                container_path=target.removesuffix(":ro"),
                read_only=target.endswith(":ro"),
            )
            for source, target in sorted(spec.mounts.items())
        ]

        uploads = [
            docker.ContainerUploadArgs(file=path, content=to_input(parts, lookup))
            for path, parts in files.items()
        ]

        ports = [
            docker.ContainerPortArgs(
                internal=item.container_port, external=item.host_port, ip=tailnet_ip
            )
            for item in topology.published_for(host, service)
        ]

        healthcheck = None
        if spec.healthcheck is not None:
            check = spec.healthcheck
            healthcheck = docker.ContainerHealthcheckArgs(
                tests=list(check.test),
                interval=f"{check.interval_s}s",
                timeout=f"{check.timeout_s}s",
                retries=check.retries,
                start_period=f"{check.start_period_s}s",
            )

        self.container = docker.Container(
            child(name, "container"),
            docker.ContainerArgs(
                name=service,
                image=image.image_id,
                command=list(spec.command) or None,
                envs=envs or None,
                volumes=volumes or None,
                uploads=uploads or None,
                ports=ports or None,
                healthcheck=healthcheck,
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(
                        name=docker_host.network(server).name, aliases=[service]
                    )
                    for server in topology.networks_of(host, service)
                ],
                restart=RESTART_POLICY,
                log_driver="json-file",
                log_opts=LOG_OPTIONS,
                labels=[
                    docker.ContainerLabelArgs(label="org.kitestacks.service", value=service),
                    docker.ContainerLabelArgs(label="org.kitestacks.host", value=host),
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=docker_host.provider),
        )

        if spec.sso is not None and spec.sso.setup is not None:
            script = to_input(topology.resolve(spec.sso.setup.script, service, host), lookup)
            self.sso_setup = sso_setup_command(
                child(name, "sso-setup"),
                service,
                spec.sso.setup.user,
                script,
                docker_host,
                self.container,
                parent=self,
            )
        self.register_outputs({"container": self.container.name})


def file_text(topology: Topology, service: str, host: str, path: str) -> str:
    """Return the catalogue text of a file: its template, or its generator's output."""
    file = topology.service(service).files[path]
    if file.template is not None:
        return file.template
    return generate(file.generator or "", topology, host)

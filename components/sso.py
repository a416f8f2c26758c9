"""The step that finishes an app's single sign-on setup inside its running container."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.docker_host import DockerHost


def sso_setup_command(
    name: str,
    service: str,
    user: str,
    script: pulumi.Input[str],
    docker_host: DockerHost,
    container: docker.Container,
    parent: pulumi.Resource,
) -> command.remote.Command:
    """Run a service's `sso.setup` script in its container with `docker exec`, over SSH.

    The script reaches the shell on standard input, so no part of it appears on
    a command line. It runs again whenever the container is replaced, which is
    also what a changed client secret in the container's environment causes.
    """
    return command.remote.Command(
        name,
        command.remote.CommandArgs(
            connection=command.remote.ConnectionArgs(
                host=docker_host.address, user=docker_host.ssh_user, dial_error_limit=10
            ),
            create=f"docker exec --interactive --user {user} {service} sh -s",
            stdin=script,
            triggers=[container.id],
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )

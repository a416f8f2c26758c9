"""The KiteStacks Pulumi program: load and check the config, then create the stack.

The stack's name is the host it deploys: `kscloud1` (upstream) or `monk`.
"""

import pulumi
from pulumi.runtime import config as runtime_config

from components.runtime import collect_garbage_less_often
from components.stacks import deploy
from config.load import SITE_KEYS, ConfigError, load, unknown_keys
from config.refs import config_keys
from config.topology import derive


def read_config(project: str, keys: list[str]) -> dict[str, str]:
    """Return the set config values of the given keys as `project:key` strings.

    Secret values are never read here, only whether they are set; the
    components read them as secret Outputs.
    """
    values: dict[str, str] = {}
    for key in keys:
        value = pulumi.runtime.get_config(f"{project}:{key}")
        if value is not None:
            values[f"{project}:{key}"] = value
    return values


collect_garbage_less_often()
project = pulumi.get_project()
secret_keys = config_keys()
config = read_config(project, list(SITE_KEYS))
config |= {key: "set" for key in read_config(project, secret_keys)}
every_key = sorted({*runtime_config.CONFIG.get(), *runtime_config.get_config_env()})
try:
    problems = unknown_keys(project, every_key, secret_keys)
    if problems:
        raise ConfigError(problems)
    model = load(project, pulumi.get_stack(), config)
except ConfigError as error:
    # Stopping here, before any resource is registered, keeps `pulumi up`
    # from deleting the resources a broken config would leave out.
    raise pulumi.RunError(str(error)) from None
deploy(derive(model))

"""Entry point of the KiteStacks policy pack: `pulumi preview --policy-pack policy`.

The Pulumi CLI runs this folder with policy/ as the working directory and
the virtualenv from PulumiPolicy.yaml. The project root goes on the import
path so that the pack shares policy/rules.py with the offline renderer.
Constructing the PolicyPack starts a gRPC server and blocks until the CLI
stops it, so nothing else imports this file.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.pack import PACK_NAME, policies

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(policies()),
)

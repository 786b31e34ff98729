"""Version truth: the README's minimum Elasticsearch and Kibana versions against what the repo ships."""

import json
import re

from movierec.kibana import DASHBOARDS
from tests.deploy.helpers import REPO, load_yaml

README = (REPO / "README.md").read_text()
SECTION = README[README.index("## Deployment and cloud notes") : README.index("## Layout")]
SERVICES = load_yaml(REPO / "docker-compose.yml")["services"]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def stated_minimum(product: str) -> tuple[int, ...]:
    match = re.search(rf"^\| {product} \| \*\*(\d+\.\d+\.\d+)\*\*", SECTION, re.M)
    assert match, f"the README's minimum-versions table has no row for {product}"
    return version(match.group(1))


def compose_stack_version() -> tuple[int, ...]:
    es = SERVICES["elasticsearch"]["image"].rpartition(":")[2]
    kibana = SERVICES["kibana"]["image"].rpartition(":")[2]
    assert es == kibana, "Elasticsearch and Kibana of one version"
    return version(es)


def test_kibana_minimum_accepts_every_saved_object():
    objects = [json.loads(line) for line in DASHBOARDS.read_text().splitlines() if line.strip()]
    newest = max(version(o["coreMigrationVersion"]) for o in objects)
    assert stated_minimum("Kibana") >= newest


def test_minimums_share_a_major_and_the_compose_stack_meets_them():
    es_min, kibana_min = stated_minimum("Elasticsearch"), stated_minimum("Kibana")
    assert es_min[0] == kibana_min[0], "Kibana needs Elasticsearch of its own major"
    stack = compose_stack_version()
    assert stack[0] == es_min[0] and stack >= es_min and stack >= kibana_min
    assert f"tested: {'.'.join(map(str, stack))}" in SECTION


def test_no_claim_that_any_8x_works():
    assert "any 8.x" not in SECTION and "8.x works" not in SECTION

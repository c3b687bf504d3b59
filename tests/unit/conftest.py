"""Make the collection importable as ansible_collections.maverick.rollback, and its
plugins resolvable by FQCN (maverick.rollback.*) in templates rendered by the tests."""

import sys
from pathlib import Path

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

COLLECTIONS = Path(__file__).resolve().parents[2] / ".collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
_AnsibleCollectionFinder(paths=[str(COLLECTIONS)])._install()

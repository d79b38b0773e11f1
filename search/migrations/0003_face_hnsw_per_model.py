"""One partial HNSW index per face model, over the embedding cast to that model's dimension.

The selector's query repeats the same cast and ``model = '<name>'`` literal so that the planner
uses the index; a search only ever compares vectors of one model.
"""

from django.db import migrations

MODELS = {"Dlib": 128, "Facenet512": 512, "ArcFace": 512}


def _name(model: str) -> str:
    return f"search_face_hnsw_{model.lower()}"


SQL = [
    f"CREATE INDEX {_name(m)} ON search_face USING hnsw ((embedding::vector({d})) vector_cosine_ops) "
    f"WITH (m = 16, ef_construction = 64) WHERE model = '{m}'"
    for m, d in MODELS.items()
]
REVERSE = [f"DROP INDEX IF EXISTS {_name(m)}" for m in MODELS]


class Migration(migrations.Migration):
    dependencies = [("search", "0002_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]

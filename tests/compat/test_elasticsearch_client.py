"""The unmodified Python `elasticsearch` 7.x client against cfyd's 9200:
product check, bulk indexing, search, count, index errors."""

import pytest
from elasticsearch import Elasticsearch, helpers
from elasticsearch.exceptions import NotFoundError, RequestError

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def es(cfyd):
    return Elasticsearch([{"host": "127.0.0.1", "port": cfyd.ports["elasticsearch"]}])


def test_info_passes_the_product_check(es):
    info = es.info()
    assert info["version"]["number"].startswith("7.")
    assert es.ping()


def test_bulk_then_search_and_count(es):
    actions = [
        {"_index": "cloudify_events", "_id": "ev%d" % i,
         "_source": {"type": "cloudify_event", "event_type": "task_started" if i % 2 else "task_succeeded",
                     "message": {"text": "operation %d done" % i}, "context": {"execution_id": "py-1"}}}
        for i in range(8)
    ]
    ok, errors = helpers.bulk(es, actions)
    assert (ok, errors) == (8, [])
    res = es.search(index="cloudify_events", body={
        "query": {"bool": {"must": [{"match": {"context.execution_id": "py-1"}}, {"term": {"event_type": "task_started"}}]}},
        "sort": [{"@timestamp": {"order": "asc"}}], "size": 10})
    hits = res["hits"]["hits"]
    total = res["hits"]["total"]
    total = total["value"] if isinstance(total, dict) else total
    assert total == 4
    assert [h["_source"]["message"]["text"] for h in hits] == ["operation %d done" % i for i in (1, 3, 5, 7)]
    assert es.count(index="logstash-*", body={"query": {"match": {"context.execution_id": "py-1"}}})["count"] == 8
    not_started = es.count(index="cloudify_events", body={"query": {"bool": {
        "filter": [{"term": {"context.execution_id": "py-1"}}],
        "must_not": [{"term": {"event_type": "task_started"}}]}}})
    assert not_started["count"] == 4


def test_errors_are_elasticsearch_errors(es):
    with pytest.raises(NotFoundError):
        es.search(index="no_such_index", body={"query": {"match_all": {}}})
    with pytest.raises(RequestError) as err:
        es.search(index="cloudify_events", body={"query": {"fuzzy": {"a": "b"}}})
    assert err.value.error == "parsing_exception"

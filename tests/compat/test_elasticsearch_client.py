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


def test_documents_get_index_delete(es):
    es.indices.create(index="py-notes")
    assert es.indices.exists(index="py-notes")
    r = es.index(index="py-notes", id="n1", body={"title": "first", "n": 1}, refresh=True)
    assert r["result"] == "created"
    r = es.index(index="py-notes", id="n1", body={"title": "second", "n": 2}, refresh=True)
    assert (r["result"], r["_version"]) == ("updated", 2)
    doc = es.get(index="py-notes", id="n1")
    assert doc["found"] and doc["_source"] == {"title": "second", "n": 2}
    es.update(index="py-notes", id="n1", body={"doc": {"n": 3}}, refresh=True)
    assert es.get(index="py-notes", id="n1")["_source"]["n"] == 3
    assert es.delete(index="py-notes", id="n1", refresh=True)["result"] == "deleted"
    with pytest.raises(NotFoundError):
        es.get(index="py-notes", id="n1")
    with pytest.raises(NotFoundError):
        es.delete(index="py-notes", id="n1")
    es.indices.delete(index="py-notes")
    assert not es.indices.exists(index="py-notes")


def test_scan_delete_by_query_and_aggregations(es):
    actions = [{"_index": "py-audit", "_source": {"who": "u%d" % (i % 4), "i": i}} for i in range(250)]
    assert helpers.bulk(es, actions, refresh=True) == (250, [])
    seen = sorted(h["_source"]["i"] for h in helpers.scan(es, index="py-audit", size=40, query={"query": {"match_all": {}}}))
    assert seen == list(range(250))
    res = es.search(index="py-audit", body={"size": 0, "aggs": {"who": {"terms": {"field": "who"}}}})
    assert sorted((b["key"], b["doc_count"]) for b in res["aggregations"]["who"]["buckets"]) == [
        ("u0", 63), ("u1", 63), ("u2", 62), ("u3", 62)]
    r = es.delete_by_query(index="py-audit", body={"query": {"term": {"who": "u0"}}})
    assert r["deleted"] == 63
    assert es.count(index="py-audit")["count"] == 187
    page = es.search(index="py-audit", body={"size": 5, "sort": [{"i": "asc"}], "query": {"range": {"i": {"gte": 100}}}})
    assert [h["_source"]["i"] for h in page["hits"]["hits"]] == [101, 102, 103, 105, 106]
    after = es.search(index="py-audit", body={"size": 2, "sort": [{"i": "asc"}], "query": {"range": {"i": {"gte": 100}}},
                                              "search_after": page["hits"]["hits"][-1]["sort"]})
    assert [h["_source"]["i"] for h in after["hits"]["hits"]] == [107, 109]

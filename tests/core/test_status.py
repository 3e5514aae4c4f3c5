"""Status and staleness derived from facts, exactly as docs/design.md §2 defines them."""

from headwater.core.asset_graph import AssetGraph
from headwater.core.events import AssetMaterialized, AssetObserved, ErrorInfo, InputRecord, InputState
from headwater.core.explain import explain_status
from headwater.core.keys import AssetKey
from headwater.core.records import AssetFacts, AttemptStatus
from headwater.core.specs import AssetSpec
from headwater.core.status import MaterializationStatus as S
from headwater.core.status import StaleCauseKind as C
from headwater.core.status import compute_statuses

K = AssetKey.parse


def graph(**code_versions):
    return AssetGraph([
        AssetSpec(K("src"), is_source=True),
        AssetSpec(K("a"), deps=(K("src"),), code_version=code_versions.get("a", "1")),
        AssetSpec(K("b"), deps=(K("a"),), code_version=code_versions.get("b", "1")),
        AssetSpec(K("c"), deps=(K("b"),), code_version="1"),
        AssetSpec(K("d"), deps=(), code_version="1"),
    ])


def mat(key, dv, inputs=(), code="1", ts=100.0, run="r1", deps=None):
    recs = tuple(InputRecord(K(k), v, 50.0) for k, v in inputs)
    return AssetMaterialized(run_id=run, timestamp=ts, key=K(key), code_version=code, data_version=dv,
                             inputs=recs, deps=tuple(K(k) for k, _ in inputs) if deps is None else deps)


def facts(*mats, observation=None, **extra):
    out = {m.key: AssetFacts(m.key, last_materialization=m, last_attempt_status=AttemptStatus.SUCCEEDED,
                             last_attempt_at=m.timestamp, last_attempt_run_id=m.run_id) for m in mats}
    if observation:
        out[K("src")] = AssetFacts(K("src"), last_observation=observation)
    out.update(extra)
    return out


OBS = AssetObserved(run_id=None, timestamp=90.0, key=K("src"), data_version="s1", data_time=40.0)
CURRENT = (mat("a", "a1", [("src", "s1")]), mat("b", "b1", [("a", "a1")]), mat("c", "c1", [("b", "b1")]))


def test_everything_current_is_materialized_and_not_stale():
    st = compute_statuses(graph(), facts(*CURRENT, observation=OBS))
    assert [st[K(k)].status for k in "abc"] == [S.MATERIALIZED] * 3
    assert not any(st[K(k)].stale for k in "abc")
    assert st[K("d")].status is S.MISSING and not st[K("d")].stale
    assert st[K("src")].status is S.OBSERVED and st[K("src")].data_version == "s1"


def test_code_change_makes_asset_stale_and_downstream_upstream_stale_naming_the_root():
    st = compute_statuses(graph(a="2"), facts(*CURRENT, observation=OBS))
    a, b, c = st[K("a")], st[K("b")], st[K("c")]
    assert [x.kind for x in a.causes] == [C.CODE_CHANGED]
    assert "from '1' to '2'" in a.causes[0].detail
    assert [x.kind for x in b.causes] == [C.UPSTREAM_STALE] and b.causes[0].dep == K("a")
    assert [x.kind for x in c.causes] == [C.UPSTREAM_STALE]
    roots = c.root_causes()
    assert [(r.kind, r.key) for r in roots] == [(C.CODE_CHANGED, K("a"))]


def test_new_upstream_version_is_upstream_updated():
    newer_a = mat("a", "a2", [("src", "s1")], ts=200.0, run="r2")
    st = compute_statuses(graph(), facts(newer_a, CURRENT[1], CURRENT[2], observation=OBS))
    b = st[K("b")]
    assert [x.kind for x in b.causes] == [C.UPSTREAM_UPDATED]
    assert "a2" in b.causes[0].detail and "'a1'" in b.causes[0].detail
    # c read b1, b is still b1 but b is stale -> c is upstream_stale with root upstream_updated of b
    assert [r.kind for r in st[K("c")].root_causes()] == [C.UPSTREAM_UPDATED]


def test_newly_observed_source_version_makes_readers_stale():
    obs2 = AssetObserved(run_id=None, timestamp=95.0, key=K("src"), data_version="s2", data_time=60.0)
    st = compute_statuses(graph(), facts(*CURRENT, observation=obs2))
    assert [x.kind for x in st[K("a")].causes] == [C.UPSTREAM_UPDATED]
    assert "observed" in st[K("a")].causes[0].detail


def test_declared_dependencies_changed():
    g = AssetGraph([AssetSpec(K("x"), code_version="1"), AssetSpec(K("y"), code_version="1"),
                    AssetSpec(K("z"), deps=(K("x"), K("y")), code_version="1")])
    f = facts(mat("x", "x1"), mat("y", "y1"), mat("z", "z1", [("x", "x1")]))
    z = compute_statuses(g, f)[K("z")]
    assert [x.kind for x in z.causes] == [C.DEPS_CHANGED]
    assert "added y" in z.causes[0].detail


def test_same_version_rematerialized_does_not_make_downstream_stale():
    again = mat("a", "a1", [("src", "s1")], ts=300.0, run="r3")
    st = compute_statuses(graph(), facts(again, *CURRENT[1:], observation=OBS))
    assert not st[K("b")].stale and not st[K("c")].stale


def test_failed_attempt_after_success_is_failed_and_running_is_running():
    f = facts(*CURRENT, observation=OBS)
    f[K("b")] = AssetFacts(K("b"), last_materialization=CURRENT[1], last_attempt_status=AttemptStatus.FAILED,
                           last_attempt_at=150.0, last_attempt_run_id="r9", last_failure=ErrorInfo("boom"))
    f[K("c")] = AssetFacts(K("c"), last_materialization=CURRENT[2], last_attempt_status=AttemptStatus.RUNNING,
                           last_attempt_at=160.0, last_attempt_run_id="r10")
    st = compute_statuses(graph(), f)
    assert st[K("b")].status is S.FAILED and st[K("b")].failure.message == "boom"
    assert st[K("c")].status is S.RUNNING
    lines = explain_status(st[K("b")], st)
    assert any("failed" in line and "r9" in line for line in lines) and any("boom" in line for line in lines)


def test_skipped_attempt_is_not_a_failure():
    f = facts(*CURRENT, observation=OBS)
    f[K("c")] = AssetFacts(K("c"), last_materialization=CURRENT[2], last_attempt_status=AttemptStatus.SKIPPED,
                           last_attempt_at=170.0)
    st = compute_statuses(graph(), f)[K("c")]
    assert st.status is not S.FAILED and st.status is S.SKIPPED


def test_skipped_attempt_after_the_last_success_is_its_own_state_with_its_reason():
    f = facts(*CURRENT, observation=OBS)
    f[K("c")] = AssetFacts(K("c"), last_materialization=CURRENT[2], last_attempt_status=AttemptStatus.SKIPPED,
                           last_attempt_at=CURRENT[2].timestamp + 10, last_attempt_run_id="r9",
                           last_failure=ErrorInfo("upstream asset b failed", "skipped"))
    f[K("d")] = AssetFacts(K("d"), last_attempt_status=AttemptStatus.SKIPPED, last_attempt_at=180.0,
                           last_failure=ErrorInfo("upstream asset b failed", "skipped"))
    st = compute_statuses(graph(), f)
    assert st[K("c")].status is S.SKIPPED and st[K("c")].failure.message == "upstream asset b failed"
    assert st[K("c")].last_materialization is CURRENT[2]  # the data it had is still there
    assert st[K("c")].input_state is InputState.OK
    assert st[K("d")].status is S.SKIPPED and st[K("d")].input_state is InputState.MISSING


def test_why_prints_the_causal_chain_down_to_the_root():
    st = compute_statuses(graph(a="2"), facts(*CURRENT, observation=OBS))
    text = "\n".join(explain_status(st[K("c")], st))
    assert "c is stale because:" in text
    assert "upstream b is stale, because:" in text
    assert "upstream a is stale, because:" in text
    assert "a: its code version changed from '1' to '2'" in text
    assert "root cause: a: code version changed" in text


def test_ran_on_stale_inputs_is_reported_by_why():
    m = AssetMaterialized(run_id="r1", timestamp=100.0, key=K("b"), code_version="1", data_version="b1",
                          inputs=(InputRecord(K("a"), "a1", 50.0, InputState.STALE, "a: code changed"),),
                          deps=(K("a"),))
    st = compute_statuses(graph(), facts(CURRENT[0], m, observation=OBS))
    assert st[K("b")].ran_on_stale_inputs
    assert any("a was stale when it was read (a: code changed)" in line for line in explain_status(st[K("b")], st))


def test_root_causes_are_shared_not_walked_path_by_path():
    # A ladder 40 layers deep: every node reads both nodes of the layer above, so there are
    # 2**40 paths from the bottom to the root cause. Walking them would never finish.
    specs = [AssetSpec(K("top"), code_version="2")]
    mats = [mat("top", "t1", code="1")]
    prev = ["top"]
    for layer in range(40):
        names = [f"l{layer}a", f"l{layer}b"]
        for n in names:
            specs.append(AssetSpec(K(n), deps=tuple(K(p) for p in prev), code_version="1"))
            mats.append(mat(n, n + "1", [(p, next(m.data_version for m in mats if str(m.key) == p)) for p in prev]))
        prev = names
    st = compute_statuses(AssetGraph(specs), facts(*mats))
    bottom = st[K("l39a")]
    assert bottom.stale
    assert [(r.kind, r.key) for r in bottom.root_causes()] == [(C.CODE_CHANGED, K("top"))]


def _eager_roots(statuses, graph_):
    """Root causes as they were derived before they became lazy: every asset's, upstream first."""
    out = {}
    for k in graph_.keys:
        found = {}
        for c in statuses[k].causes:
            if c.kind is C.UPSTREAM_STALE and c.dep in out:
                for r in out[c.dep]:
                    found.setdefault(id(r), r)
            else:
                found.setdefault(id(c), c)
        out[k] = tuple(found.values())
    return out


def _random_history(seed):
    import random

    rng = random.Random(seed)
    specs, mats, versions = [], [], {}
    for i in range(60):
        deps = sorted({f"n{rng.randrange(i)}" for _ in range(rng.randint(0, 3))}) if i else []
        specs.append(AssetSpec(K(f"n{i}"), deps=tuple(map(K, deps)), code_version="2" if rng.random() < 0.05 else "1"))
        versions[f"n{i}"] = f"v{i}"
        # read an old version of a parent now and then: upstream_updated
        mats.append(mat(f"n{i}", f"v{i}", [(d, versions[d] if rng.random() < 0.8 else "old") for d in deps]))
    return AssetGraph(specs), facts(*mats)


def test_lazy_roots_are_the_eager_roots_whichever_is_asked_first():
    most = 0
    for seed in range(20):
        g, f = _random_history(seed)
        expected = _eager_roots(compute_statuses(g, f), g)
        for n in (3, 8):
            by_head = compute_statuses(g, f)
            heads = {k: tuple(by_head[k].roots[:n]) for k in reversed(g.keys)}  # heads first, downstream first
            assert heads == {k: v[:n] for k, v in expected.items()}
            assert {k: tuple(s.root_causes()) for k, s in by_head.items()} == expected
        by_len = compute_statuses(g, f)
        assert {k: len(by_len[k].roots) for k in g.keys} == {k: len(v) for k, v in expected.items()}
        most = max(most, *map(len, expected.values()))
    assert most > 8  # the heads were shorter than the whole, somewhere


def test_lazy_roots_compare_and_slice_like_a_tuple():
    st = compute_statuses(graph(a="2"), facts(*CURRENT, observation=OBS))
    c = st[K("c")]
    assert c.roots == tuple(c.roots) and tuple(c.roots) == c.roots and c.roots[0].kind is C.CODE_CHANGED
    assert c == compute_statuses(graph(a="2"), facts(*CURRENT, observation=OBS))[K("c")]
    assert st[K("d")].roots == ()


# --- the incremental pass -------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st_  # noqa: E402

from headwater.core.status import StatusPass  # noqa: E402

_CHAIN = ["src", "a", "b", "c", "d"]


def _view(statuses):
    """Everything a status says, with root causes, for comparing two derivations."""
    return {str(k): (s.status, s.stale, tuple((c.kind, c.detail) for c in s.causes),
                     tuple((r.key, r.detail) for r in s.roots), s.data_version, s.last_run_id, s.failure)
            for k, s in statuses.items()}


_CHANGE = st_.tuples(st_.sampled_from(["observe", "materialize", "fail", "running", "recode"]),
                     st_.sampled_from(_CHAIN), st_.integers(0, 3))


@settings(max_examples=60, deadline=None)
@given(st_.lists(st_.lists(_CHANGE, max_size=4), min_size=1, max_size=8))
def test_the_incremental_pass_equals_a_pass_from_scratch_after_any_changes(rounds):
    """Facts that did not change are handed back as the very same objects (as the store does);
    whatever changes, the kept statuses must be exactly what a fresh derivation gives."""
    codes = {"a": "1", "b": "1"}
    current = dict(facts(*CURRENT, observation=OBS))
    incremental = StatusPass()
    g = graph(**codes)
    for changes in rounds:
        for what, name, n in changes:
            key = K(name)
            old = current.get(key)
            if what == "recode" and name in codes:
                codes[name] = str(n)
                g = graph(**codes)  # new definitions: new spec objects
            elif what == "observe" and name == "src":
                current[key] = AssetFacts(key, last_observation=AssetObserved(
                    run_id=None, timestamp=100.0 + n, key=key, data_version=f"s{n}", data_time=40.0 + n))
            elif what == "materialize" and name != "src":
                parent = {"a": "src", "b": "a", "c": "b", "d": None}[name]
                read = []
                if parent is not None:
                    p = current.get(K(parent))
                    pv = (p.last_observation.data_version if p and p.last_observation else None) if parent == "src" \
                        else (p.last_materialization.data_version if p and p.last_materialization else None)
                    read = [(parent, pv)]
                m = mat(name, f"{name}{n}", read, code=codes.get(name, "1"), ts=200.0 + n)
                current[key] = AssetFacts(key, last_materialization=m, last_attempt_status=AttemptStatus.SUCCEEDED,
                                          last_attempt_at=m.timestamp, last_attempt_run_id=m.run_id)
            elif what in ("fail", "running") and name != "src":
                prior = old.last_materialization if old else None
                current[key] = AssetFacts(
                    key, last_materialization=prior, last_attempt_run_id=f"r{n}", last_attempt_at=300.0 + n,
                    last_attempt_status=AttemptStatus.FAILED if what == "fail" else AttemptStatus.RUNNING,
                    last_failure=ErrorInfo(f"boom {n}") if what == "fail" else None)
        got = incremental.compute(g, dict(current))
        assert _view(got) == _view(compute_statuses(g, current))


def test_the_incremental_pass_keeps_the_statuses_of_what_did_not_change():
    same = facts(*CURRENT, observation=OBS)
    incremental = StatusPass()
    g = graph(a="2")
    first = incremental.compute(g, same)
    changed = dict(same)
    changed[K("c")] = AssetFacts(K("c"), last_materialization=mat("c", "c2", [("b", "b1")], ts=300.0))
    second = incremental.compute(g, changed)
    assert all(second[K(k)] is first[K(k)] for k in ("src", "a", "b", "d"))
    assert second[K("c")] is not first[K("c")] and second[K("c")].data_version == "c2"
    assert incremental.compute(graph(a="2"), changed)[K("a")] is not second[K("a")]  # new definitions

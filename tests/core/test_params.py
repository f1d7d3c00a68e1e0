"""Parameter pytrees, flat vectors and names (hessstats.core.params), through ``hs.Model``.

References: ``jax.flatten_util.ravel_pytree`` (JAX's own flattening order, which hessstats promises
to use everywhere), and closed-form estimates of separable quadratic log-likelihoods. Already
covered elsewhere: default names of dict/matrix leaves and ``names={key: [...]}`` (test_fitting),
names/start mismatches (test_model), ``fit(start=)`` validation (test_model).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import hessstats as hs
from hessstats.errors import SpecificationError


def quadratic(target):
    """A log-likelihood maximised at ``target`` (same pytree), with Hessian -I: closed-form MLE."""
    def loglike(p, d):
        diffs = jax.tree_util.tree_map(lambda a, b: jnp.sum((a - b) ** 2), p, target)
        return -0.5 * sum(jax.tree_util.tree_leaves(diffs))
    return loglike


class Params(NamedTuple):
    beta: object
    sigma: object


NESTED = {"outer": {"b": np.zeros(2), "a": 0.0}, "c": [1.0, np.zeros(2)]}


def test_flat_order_is_jax_ravel_pytree_order():
    """The flat vector is ravel_pytree's (sorted dict keys, then leaf elements in C order)."""
    target = {"outer": {"b": np.array([1.0, 2.0]), "a": 3.0}, "c": [4.0, np.array([5.0, 6.0])]}
    res = hs.fit(quadratic(target), NESTED, None)
    with jax.enable_x64(True):  # mixed Python floats and float64 arrays: ravel in float64
        flat, _ = ravel_pytree(target)
    np.testing.assert_allclose(res.params.to_numpy(), np.asarray(flat), rtol=1e-12)
    assert res.names == ("c[0]", "c[1][0]", "c[1][1]", "outer.a", "outer.b[0]", "outer.b[1]")


def test_params_tree_has_the_start_structure():
    """res.params_tree rebuilds the start pytree (closed-form MLE = the target)."""
    target = Params(beta=np.array([1.5, -2.0]), sigma=0.5)
    res = hs.fit(quadratic(target), Params(np.zeros(2), 1.0), None)
    tree = res.params_tree
    assert isinstance(tree, Params)
    np.testing.assert_allclose(tree.beta, [1.5, -2.0], rtol=1e-12)
    np.testing.assert_allclose(tree.sigma, 0.5, rtol=1e-12)
    assert res.names == ("beta[0]", "beta[1]", "sigma")  # named-tuple fields name like dict keys
    np.testing.assert_allclose(res.bse.to_numpy(), np.ones(3), rtol=1e-12)  # Hessian -I


def test_names_for_a_nested_key_by_dotted_path_or_by_its_parent():
    """``names`` maps a dotted path to a leaf's names, or a parent key to all of its elements in order."""
    loglike = quadratic({"outer": {"a": 0.0, "b": np.zeros(2)}})
    start = {"outer": {"a": 0.0, "b": np.zeros(2)}}
    assert hs.Model(loglike, start, names={"outer.b": ["x", "y"]}).names == ("outer.a", "x", "y")
    assert hs.Model(loglike, start, names={"outer": ["p", "x", "y"]}).names == ("p", "x", "y")
    assert hs.Model(loglike, start, names=["p", "x", "y"]).names == ("p", "x", "y")


def test_flat_names_of_the_wrong_length_are_refused():
    loglike = quadratic({"a": 0.0, "b": 0.0})
    with pytest.raises(SpecificationError, match=r"(?s)do not match the number of parameters.*2 names.*1 names"):
        hs.Model(loglike, {"a": 0.0, "b": 0.0}, names=["x"])
    with pytest.raises(SpecificationError, match="not unique"):
        hs.Model(loglike, {"a": 0.0, "b": 0.0}, names=["x", "x"])


@pytest.mark.parametrize("start, pattern", [
    ({}, "start has no parameters"),
    ({"a": "one"}, "'a' is not numeric"),
    ({"a": {"b": np.array([0.0, np.inf])}}, "'a.b' is not finite"),
], ids=["empty", "string", "nested-inf"])
def test_bad_start_values_are_named(start, pattern):
    """Each start problem names the offending leaf by its path."""
    with pytest.raises(SpecificationError, match=pattern):
        hs.Model(lambda p, d: jnp.zeros(()), start)


def test_integer_start_values_become_float64():
    """Integer start values are accepted and fitted in float64 (closed-form MLE 0.25)."""
    res = hs.fit(quadratic({"a": 0.25, "b": np.array([0.25, 0.25])}), {"a": 1, "b": np.arange(2)}, None)
    assert res.model.start.dtype == np.float64
    np.testing.assert_allclose(res.params.to_numpy(), [0.25] * 3, rtol=1e-12)


def test_fit_accepts_a_flat_start_vector_in_name_order():
    """A flat vector of k numbers is read in the order of model.names (closed-form MLE)."""
    model = hs.Model(quadratic({"a": 1.0, "b": np.array([2.0, 3.0])}), {"a": 0.0, "b": np.zeros(2)})
    res = model.fit(start=np.array([0.5, 0.5, 0.5]))
    np.testing.assert_allclose(res.params.to_numpy(), [1.0, 2.0, 3.0], rtol=1e-12)
    with pytest.raises(SpecificationError, match="parameter structure"):
        model.fit(start=np.zeros(2))


def test_renaming_parameters_keeps_the_structure_equal():
    """Names are not part of the structure's equality/hash (renaming must not recompile kernels)."""
    loglike = quadratic({"a": 0.0, "b": 0.0})
    one = hs.Model(loglike, {"a": 0.0, "b": 0.0}).spec
    two = hs.Model(loglike, {"a": 0.0, "b": 0.0}, names=["x", "y"]).spec
    other = hs.Model(quadratic({"a": 0.0, "b": np.zeros(2)}), {"a": 0.0, "b": np.zeros(2)}).spec
    assert one == two and hash(one) == hash(two) and one.names != two.names
    assert one != other


def test_unknown_names_are_one_typed_error_listing_the_known_ones():
    """Fixing or profiling an unknown parameter lists the known names."""
    res = hs.fit(quadratic({"a": 1.0, "b": 2.0}), {"a": 0.0, "b": 0.0}, None)
    with pytest.raises(SpecificationError, match=r"(?s)unknown parameter names.*\['a', 'b'\].*\['c'\]"):
        res.model.fix({"c": 1.0})
    with pytest.raises(SpecificationError, match="unknown parameter names"):
        res.profile_ci(["c"])

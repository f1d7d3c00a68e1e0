"""What post-estimation uses when the user does not say: typed defaults a model declares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PostEstimationDefaults:
    """Defaults for post-estimation that a model declares (the built-in models fill them in).

    - ``null``: ``{name: value}`` fixed by the null model of ``res.lr_test_null()`` (built-ins with
      a constant: every slope at 0, as statsmodels' ``llnull``);
    - ``predict``: ``predict(params, data) -> (n,)`` differentiated by ``res.margins()``;
    - ``margins_variables``: ``{label: (data key, column)}`` for ``res.margins()``;
    - ``transforms``: ``{name: fn(params)}`` reported by ``res.transformed()``.

    Example
    -------
    >>> d = PostEstimationDefaults(null={"x": 0.0})
    >>> d.null, d.predict is None
    ({'x': 0.0}, True)
    """

    null: Mapping[str, float] | None = None
    predict: Callable[[Any, Any], Any] | None = None
    margins_variables: Mapping[str, Any] | None = None
    transforms: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

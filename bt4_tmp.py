import time, numpy as np, pandas as pd, jax, jax.numpy as jnp, hessstats as hs
from hessstats.core.bootstrap import _observations
jax.config.update("jax_enable_x64", True)
rng = np.random.default_rng(12); n,k=10000,10
x = rng.normal(size=(n, k - 1)); y = (0.3 + x @ np.linspace(-.5,.5,k-1) + rng.logistic(size=n) > 0).astype(float)
df = pd.DataFrame(x, columns=[f"x{j}" for j in range(1, k)]).assign(y=y)
m = hs.logit("y ~ " + " + ".join(df.columns[:-1]), df); res = m.fit()
B=64
W = jnp.asarray(rng.poisson(1.0, size=(B, n)).astype(float)); T = jnp.broadcast_to(jnp.asarray(res.theta), (B, k))
def total(t, w): return jnp.sum(_observations(t, m.data, m.program, m.spec, m.consts) * w)
variants = {
 "value_grad": jax.jit(jax.vmap(jax.value_and_grad(total))),
 "jacfwd(grad)": jax.jit(jax.vmap(jax.jacfwd(jax.grad(total)))),
 "jacrev(grad)": jax.jit(jax.vmap(jax.jacrev(jax.grad(total)))),
 "hessian": jax.jit(jax.vmap(jax.hessian(total))),
}
for name, f in variants.items():
    jax.block_until_ready(f(T, W))
    t=time.perf_counter()
    for _ in range(5): jax.block_until_ready(f(T, W))
    print(name, (time.perf_counter()-t)/5)
# manual
X = m.data["X"] if isinstance(m.data, dict) and "X" in m.data else None
print(type(m.data), list(m.data) if isinstance(m.data, dict) else None)

import time, numpy as np, pandas as pd, jax, jax.numpy as jnp, hessstats as hs
from hessstats.core.bootstrap import _observations
jax.config.update("jax_enable_x64", True)
rng = np.random.default_rng(12); n,k=10000,10
x = rng.normal(size=(n, k - 1)); y = (0.3 + x @ np.linspace(-.5,.5,k-1) + rng.logistic(size=n) > 0).astype(float)
df = pd.DataFrame(x, columns=[f"x{j}" for j in range(1, k)]).assign(y=y)
m = hs.logit("y ~ " + " + ".join(df.columns[:-1]), df); res = m.fit()
def total(t, w): return jnp.sum(_observations(t, m.data, m.program, m.spec, m.consts) * w)
for B in (1, 4, 8, 16, 32, 64, 128):
    W = jnp.asarray(rng.poisson(1.0, size=(B, n)).astype(float)); T = jnp.broadcast_to(jnp.asarray(res.theta), (B, k))
    fs = {"jacrev": jax.jit(jax.vmap(jax.jacrev(jax.grad(total)))), "vg": jax.jit(jax.vmap(jax.value_and_grad(total)))}
    for name, f in fs.items():
        jax.block_until_ready(f(T, W))
        t=time.perf_counter(); c=time.process_time()
        for _ in range(3): jax.block_until_ready(f(T, W))
        print(B, name, "per replicate ms %.3f" % (1000*(time.perf_counter()-t)/3/B), "cpu/wall %.2f" % ((time.process_time()-c)/(time.perf_counter()-t)))

# Natural-scale reference numbers for hessstats issue 13 (res.transformed() of built-in models).
# Run from the repository root: Rscript data/reference/natural_scale.R > data/reference/natural_scale.csv
suppressMessages({library(survival); library(MASS)})
out <- function(model, term, value, se) cat(sprintf("%s,%s,%.15g,%.15g\n", model, term, value, se))
cat(sprintf("# %s; survival %s; MASS %s; generated %s\n", R.version.string, packageVersion("survival"),
            packageVersion("MASS"), format(Sys.Date())))
cat("model,term,value,std_err\n")
heart <- read.csv("data/heart.csv")
w <- survreg(Surv(survival, censors) ~ age, data = heart, dist = "weibull",
             control = survreg.control(rel.tolerance = 1e-12, iter.max = 100))
tab <- summary(w)$table
for (i in seq_len(nrow(tab))) out("weibull", rownames(tab)[i], tab[i, 1], tab[i, 2])
fair <- read.csv("data/fair.csv")
t <- survreg(Surv(affairs, affairs > 0, type = "left") ~ rate_marriage + age, data = fair, dist = "gaussian",
             control = survreg.control(rel.tolerance = 1e-12, iter.max = 100))
tab <- summary(t)$table
for (i in seq_len(nrow(tab))) out("tobit", rownames(tab)[i], tab[i, 1], tab[i, 2])
anes <- read.csv("data/anes96.csv")
p <- polr(factor(PID) ~ logpopul + age, data = anes, Hess = TRUE, control = list(reltol = 1e-14, maxit = 1000))
tab <- summary(p)$coefficients
for (i in seq_len(nrow(tab))) out("ordered_logit", rownames(tab)[i], tab[i, 1], tab[i, 2])

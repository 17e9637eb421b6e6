"""./pifio ab and ./pifio bisect: A/B of patched vs plain lab kernels (ab), git bisect runs (bisect), their suite of cases (suite)."""

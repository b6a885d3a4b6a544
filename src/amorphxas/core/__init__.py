"""The foundation every stage stands on: errors, the energy grid and spectrum math, file safety.

Nothing here imports a stage (structures, sites, spectra, dataset, descriptors, forward,
inverse, report) or the command line.
"""

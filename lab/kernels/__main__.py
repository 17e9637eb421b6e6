"""python -m lab.kernels [list | fetch [NAME…]]"""
import sys

from .registry import main

sys.exit(main(sys.argv[1:]))

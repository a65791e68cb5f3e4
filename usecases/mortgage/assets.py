"""The mortgage use case's asset graph: the kit, given the definition."""

from assets.kit import lifecycle
from usecases.mortgage.definition import MORTGAGE

defs = lifecycle(MORTGAGE)

"""Use cases: each a definition the lifecycle kit (`assets/kit/`) builds an asset graph from."""

from flightpath.usecase import UseCase
from usecases.mortgage.definition import MORTGAGE

# Every use case the code location serves, by name (the CLI's `usecase <name>`).
USECASES: dict[str, UseCase] = {usecase.name: usecase for usecase in (MORTGAGE,)}

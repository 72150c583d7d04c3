"""The engine's named errors; each carries a message a person can read (in Chinese)."""


class WorkflowError(Exception):
    """A command the engine refused; nothing was changed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidTransition(WorkflowError):
    """The command does not apply to the permit in its current state; command and state name which."""

    def __init__(self, message: str, *, command: str | None = None, state: str | None = None):
        super().__init__(message)
        self.command = command
        self.state = state


class NotAuthorized(WorkflowError):
    """The person does not hold this step's role on this permit."""


class GateNotMet(WorkflowError):
    """A precondition of the step is not met (stale gas test, missing photo, no check-in, ...)."""


class GateNotWired(WorkflowError):
    """A gate has no check registered, so it refuses rather than pass unchecked."""

    def __init__(self, gate: str, label: str):
        super().__init__(f"安全检查“{label}”未接入，本操作已拒绝，请联系系统管理员")
        self.gate = gate


class AlreadySigned(WorkflowError):
    """Someone else completed the step first (或签), or the card is stale."""


class StaleVersion(WorkflowError):
    """The permit changed after the caller last read it."""


class InvalidPermit(WorkflowError):
    """The permit's content breaks a rule (validity, grade, missing field, ...)."""


class NotCertified(InvalidPermit):
    """Someone named on the permit lacks a valid certificate their role needs; roles says which roles."""

    def __init__(self, message: str, *, roles: tuple[str, ...]):
        super().__init__(message)
        self.roles = roles


class NotFound(WorkflowError):
    """No permit, person or step by that name."""


class TemplateError(Exception):
    """A work-type template is malformed or looser than GB 30871; the message names file, field, rule."""

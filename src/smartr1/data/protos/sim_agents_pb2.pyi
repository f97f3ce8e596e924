from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SimulatedTrajectory(_message.Message):
    __slots__ = ("center_x", "center_y", "center_z", "heading", "object_id")
    CENTER_X_FIELD_NUMBER: _ClassVar[int]
    CENTER_Y_FIELD_NUMBER: _ClassVar[int]
    CENTER_Z_FIELD_NUMBER: _ClassVar[int]
    HEADING_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    center_x: _containers.RepeatedScalarFieldContainer[float]
    center_y: _containers.RepeatedScalarFieldContainer[float]
    center_z: _containers.RepeatedScalarFieldContainer[float]
    heading: _containers.RepeatedScalarFieldContainer[float]
    object_id: int
    def __init__(self, center_x: _Optional[_Iterable[float]] = ..., center_y: _Optional[_Iterable[float]] = ..., center_z: _Optional[_Iterable[float]] = ..., heading: _Optional[_Iterable[float]] = ..., object_id: _Optional[int] = ...) -> None: ...

class JointScene(_message.Message):
    __slots__ = ("simulated_trajectories",)
    SIMULATED_TRAJECTORIES_FIELD_NUMBER: _ClassVar[int]
    simulated_trajectories: _containers.RepeatedCompositeFieldContainer[SimulatedTrajectory]
    def __init__(self, simulated_trajectories: _Optional[_Iterable[_Union[SimulatedTrajectory, _Mapping]]] = ...) -> None: ...

class ScenarioRollouts(_message.Message):
    __slots__ = ("scenario_id", "joint_scenes")
    SCENARIO_ID_FIELD_NUMBER: _ClassVar[int]
    JOINT_SCENES_FIELD_NUMBER: _ClassVar[int]
    scenario_id: str
    joint_scenes: _containers.RepeatedCompositeFieldContainer[JointScene]
    def __init__(self, scenario_id: _Optional[str] = ..., joint_scenes: _Optional[_Iterable[_Union[JointScene, _Mapping]]] = ...) -> None: ...

class SimAgentsChallengeSubmission(_message.Message):
    __slots__ = ("scenario_rollouts", "submission_type", "account_name", "unique_method_name", "authors", "affiliation", "description", "method_link", "uses_lidar_data", "uses_camera_data", "uses_public_model_pretraining", "num_model_parameters", "public_model_names", "acknowledge_complies_with_closed_loop_requirement")
    class SubmissionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[SimAgentsChallengeSubmission.SubmissionType]
        SIM_AGENTS_SUBMISSION: _ClassVar[SimAgentsChallengeSubmission.SubmissionType]
    UNKNOWN: SimAgentsChallengeSubmission.SubmissionType
    SIM_AGENTS_SUBMISSION: SimAgentsChallengeSubmission.SubmissionType
    SCENARIO_ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    SUBMISSION_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHORS_FIELD_NUMBER: _ClassVar[int]
    AFFILIATION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METHOD_LINK_FIELD_NUMBER: _ClassVar[int]
    USES_LIDAR_DATA_FIELD_NUMBER: _ClassVar[int]
    USES_CAMERA_DATA_FIELD_NUMBER: _ClassVar[int]
    USES_PUBLIC_MODEL_PRETRAINING_FIELD_NUMBER: _ClassVar[int]
    NUM_MODEL_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_MODEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_COMPLIES_WITH_CLOSED_LOOP_REQUIREMENT_FIELD_NUMBER: _ClassVar[int]
    scenario_rollouts: _containers.RepeatedCompositeFieldContainer[ScenarioRollouts]
    submission_type: SimAgentsChallengeSubmission.SubmissionType
    account_name: str
    unique_method_name: str
    authors: _containers.RepeatedScalarFieldContainer[str]
    affiliation: str
    description: str
    method_link: str
    uses_lidar_data: bool
    uses_camera_data: bool
    uses_public_model_pretraining: bool
    num_model_parameters: str
    public_model_names: _containers.RepeatedScalarFieldContainer[str]
    acknowledge_complies_with_closed_loop_requirement: bool
    def __init__(self, scenario_rollouts: _Optional[_Iterable[_Union[ScenarioRollouts, _Mapping]]] = ..., submission_type: _Optional[_Union[SimAgentsChallengeSubmission.SubmissionType, str]] = ..., account_name: _Optional[str] = ..., unique_method_name: _Optional[str] = ..., authors: _Optional[_Iterable[str]] = ..., affiliation: _Optional[str] = ..., description: _Optional[str] = ..., method_link: _Optional[str] = ..., uses_lidar_data: _Optional[bool] = ..., uses_camera_data: _Optional[bool] = ..., uses_public_model_pretraining: _Optional[bool] = ..., num_model_parameters: _Optional[str] = ..., public_model_names: _Optional[_Iterable[str]] = ..., acknowledge_complies_with_closed_loop_requirement: _Optional[bool] = ...) -> None: ...

"""The command-line door: click commands grouped by topic; the composition root adds COMMANDS to its group."""
from .api import api_token, webhook
from .areas import area_board
from .backup import backup, restore
from .database import (audit_checkpoint, enrol_face, init_db, load_inspections_command, load_knowledge_command,
                       load_org_command, load_sensors_command, load_training_command, seal_audit, sensor_rekey,
                       verify_audit)
from .demos import demo, walkthrough
from .dingtalk_setup import dingtalk_setup
from .enterprises import archive, enterprise, park_report
from .exports import COMMANDS as EXPORT_COMMANDS
from .permits import permit_cli
from .processes import dingtalk_stream, scheduler, serve, wecom_ws, worker
from .states import states
from .tools import load_tools_command, tool_labels

COMMANDS = (init_db, load_org_command, load_sensors_command, load_inspections_command, load_knowledge_command,
            load_training_command, load_tools_command, tool_labels, sensor_rekey, enrol_face, verify_audit, seal_audit,
            audit_checkpoint, walkthrough, demo, permit_cli, states, serve, worker, scheduler, dingtalk_stream, wecom_ws,
            dingtalk_setup, backup, restore, area_board, api_token, webhook, enterprise, park_report, archive,
            *EXPORT_COMMANDS)

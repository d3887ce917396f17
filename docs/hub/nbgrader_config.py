"""nbgrader settings that every user of the hub shares: install as /etc/jupyter/nbgrader_config.py.

The course's own settings (course id, folders, the confined grader) stay in the course's
nbgrader_config.py, in the instructor's copy of the course.
"""

import os

from nbgrader.auth import JupyterHubAuthPlugin

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# One exchange for every course; each course has a folder in it (path_includes_course
# also gives each student a folder per course: ~/COURSE/LAB/).
c.Exchange.root = os.environ.get("COURSE_HUB_EXCHANGE", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True
# Who takes which course: hub groups nbgrader-COURSE (students) and formgrade-COURSE
# (instructors). Fetching or submitting a lab of a course one is not in fails.
c.Authenticator.plugin_class = JupyterHubAuthPlugin

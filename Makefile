# rnn_control: two-command quickstart (see README.md).
#   make demo   install everything into .venv and run the end-to-end demo
#   make test   install everything into .venv and run the test suite
#
# On a robot with a ROS 2 distro sourced (ROS_DISTRO set and rclpy importable), the venv is
# created with --system-site-packages and the distro's rclpy is used instead of the PyPI wheels.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Keep DDS on this machine unless the user says otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

HAVE_DISTRO_RCLPY := $(shell [ -n "$$ROS_DISTRO" ] && $(PYTHON) -c "import rclpy" >/dev/null 2>&1 && echo yes)
ifeq ($(HAVE_DISTRO_RCLPY),yes)
  VENV_FLAGS := --system-site-packages
  EXTRAS     := train,bags,dev
else
  VENV_FLAGS :=
  EXTRAS     := train,ros,bags,dev
endif

.PHONY: demo test test-slow lint bench venv clean

$(STAMP): setup.py constraints.txt
	@$(PYTHON) -c "import sys; assert sys.version_info >= (3, 10), 'Python >= 3.10 is required'"
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || { echo "python3-venv is missing: run 'sudo apt install python3-venv' and retry"; exit 1; }
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rnn-control demo $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check rnn_control tests bench launch sim

clean:
	rm -rf $(VENV) build *.egg-info ros2_ws/build ros2_ws/install ros2_ws/log

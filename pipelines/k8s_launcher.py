"""The run launcher of a pod per run, sized by the assets the run materialises
(`pipelines/k8s.py` holds the sizes). Named in the Dagster instance's `run_launcher` config
(deploy/k8s/run-launcher, deploy/helm), so only the daemon and the webserver import it."""

from dagster._core.storage.dagster_run import DagsterRun
from dagster_k8s import K8sRunLauncher
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config

from pipelines.k8s import planned_asset_keys, run_pod_config


class FlightpathK8sRunLauncher(K8sRunLauncher):
    """`K8sRunLauncher` whose run pod is sized by the assets the run materialises.

    Precedence, lowest first: the launcher's config, the code location's container context,
    the assets' size, an explicit `dagster-k8s/config` tag on the run.
    """

    def get_container_context_for_run(self, dagster_run: DagsterRun) -> K8sContainerContext:
        sized = UserDefinedDagsterK8sConfig.from_dict(
            run_pod_config(planned_asset_keys(self._instance, dagster_run))
        )
        tagged = K8sContainerContext(
            run_k8s_config=get_user_defined_k8s_config(dagster_run.tags)
        ).validate_user_k8s_config_for_run(
            self.only_allow_user_defined_k8s_config_fields,
            self.only_allow_user_defined_env_vars,
        )
        return (
            K8sContainerContext.create_for_run(dagster_run, self, include_run_tags=False)
            .merge(K8sContainerContext(run_k8s_config=sized))
            .merge(tagged)
        )

"""Lambda handlers of the library's custom resources. The folder is one Lambda asset: modules
import each other as top-level modules (``import cfn_response``), the way Lambda loads them."""

"""The ward station: archives, searches and shows what every pole publishes (being built).

It imports only `edge_agent.contract` from the pole side, never a stage, OpenCV or onnxruntime.
"""

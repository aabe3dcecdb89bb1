"""What a request may ask of a given model: sampling, system prompt, modalities, streamed tools.

The shape of a Converse body is checked in converse_validation.py for every model; this module
refuses what the chosen model cannot do, with Bedrock's own messages (the comment names a
public report that shows each one).
"""

from aws_errors import validation
from reasoning_rules import MODEL_ERRORS


def check(body, model, ctx, streaming):
    inf = body.get("inferenceConfig") or {}
    if model.exclusive_sampling and "temperature" in inf and "topP" in inf:
        # aws-samples/bedrock-access-gateway#191 (Haiku 4.5), BerriAI/litellm#15070 (Sonnet 4.5)
        raise validation(MODEL_ERRORS + "`temperature` and `top_p` cannot both be specified for this model. "
                         "Please use only one.")
    if body.get("system") and not model.system:
        # 567-labs/instructor#1753 (mistral.mistral-7b-instruct, mixtral on Bedrock)
        raise validation("This model doesn't support system messages. Try again without a system message or use "
                         "a model that supports system messages.")
    if ctx["images"] and "IMAGE" not in model.inputs:
        # earendil-works/pi#8960, can1357/oh-my-pi#11685 (also for images inside tool results)
        raise validation("This model doesn't support the image field for user messages. Remove image and try again.")
    if ctx["videos"] and "VIDEO" not in model.inputs:
        # The same capability wording, for video.
        raise validation("This model doesn't support the video field for user messages. Remove video and try again.")
    if streaming and "toolConfig" in body and not model.streaming_tools:
        # earendil-works/pi#3739 (Llama 4 Scout / Maverick on ConverseStream)
        raise validation("This model doesn't support tool use in streaming mode.")
